/**
 * Binding a Store to an existing PostgreSQL (a managed database) instead of giving it its own:
 *
 *   npm run infra:build -- --bind-store my-app.customer-server.db=postgres://app:pw@db.example.com/customers
 *   npm run infra:build -- --bind-store my-app.customer-server.db=env:CUSTOMERS_DB_URL
 *   npm run infra:build -- --unbind-store my-app.customer-server.db
 *
 * The `env:NAME` form reads the URL from the build's environment, so a CI secret stays out of
 * the command line. A binding is kept in the value file (0600) with the passwords: a later build
 * without the flag must not quietly swap the app onto an empty database of its own.
 *
 * A bound Store gets no database container, StatefulSet, volume or network; its URL reaches the
 * same personas (its owners) as its own database's URL would. Local processes keep their own
 * local databases, so debugging never writes to the bound one.
 */
import type { App } from '../app.ts';
import { Store } from '../components/store/store.ts';
import type { ValueFile } from '../secrets/value-file.ts';
import { redactUrl } from '../local/databases.ts';
import { errors } from '../errors.ts';

export interface BindingRequests {
  /** Store ID to the URL to bind it to. */
  readonly bind: ReadonlyMap<string, string>;
  readonly unbind: ReadonlySet<string>;
}

/** The requests of `--bind-store STORE_ID=URL|env:NAME` and `--unbind-store STORE_ID` (as parsed by build-args.ts). */
export function bindingRequests(binds: readonly string[], unbinds: readonly string[], env: NodeJS.ProcessEnv): BindingRequests {
  const bind = new Map<string, string>();
  for (const given of binds) {
    // The ID ends at the first `=` that a scheme follows (a URL's query has `=` too).
    const match = /^([^=]+?)=([a-z][a-z0-9+.-]*:.*)$/is.exec(given);
    if (!match) throw errors.bindingArgument('--bind-store', redactPassword(given));
    const id = match[1];
    let url = match[2];
    if (url.startsWith('env:')) {
      const name = url.slice('env:'.length);
      url = env[name] ?? '';
      if (url === '') throw errors.bindingEnvMissing(id, name);
    }
    if (bind.has(id)) throw errors.bindingArgument('--bind-store', `${id} (given twice)`);
    bind.set(id, url);
  }
  const unbind = new Set(unbinds);
  for (const id of unbind) if (bind.has(id)) throw errors.bindingArgument('--unbind-store', `${id} (also given to --bind-store)`);
  return { bind, unbind };
}

/** `given` with the password of any URL in it masked, for messages. */
function redactPassword(given: string): string {
  return given.replace(/(\/\/[^:@/]*:)[^@/]*@/g, '$1***@');
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Checks `url` as a connection URL for Store `storeId`: `postgres://` or `postgresql://`, a host
 * and a database. Returns warnings for what is valid but likely wrong.
 */
export function checkStoreUrl(storeId: string, url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw errors.invalidStoreUrl(storeId, 'it is not a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw errors.invalidStoreUrl(storeId, `its scheme is ${parsed.protocol.replace(/:$/, '')}, not postgres`);
  if (!parsed.hostname) throw errors.invalidStoreUrl(storeId, 'it names no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) throw errors.invalidStoreUrl(storeId, 'it names no database (…/DATABASE at the end of the path)');
  if (LOOPBACK.test(parsed.hostname)) {
    return [
      `Store ${storeId} is bound to ${parsed.hostname}: inside a container or pod that is the container itself, not this machine. Use a host name the containers can resolve`,
    ];
  }
  return [];
}

/**
 * Applies `requests` to `file` (which keeps the bindings) for the Stores of `app`, and returns
 * what to tell the user. Unknown Store IDs are refused; a binding of a Store no longer in the
 * tree is kept, like its password, in case it comes back.
 */
export function applyBindings(app: App, file: ValueFile, requests: BindingRequests): { lines: string[]; warnings: string[] } {
  const stores = app.components.filter((c): c is Store => c instanceof Store).map((s) => s.id.value);
  for (const id of [...requests.bind.keys(), ...requests.unbind]) if (!stores.includes(id)) throw errors.unknownStore(id, stores);
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const [id, url] of requests.bind) {
    warnings.push(...checkStoreUrl(id, url));
    file.bind(id, url);
  }
  for (const id of requests.unbind) {
    if (file.unbind(id)) {
      warnings.push(`Store ${id} is no longer bound: it gets its own database again, which does not have the data of the one it was bound to`);
    } else {
      lines.push(`Store ${id} was not bound; nothing to unbind`);
    }
  }
  for (const id of stores) {
    const url = file.binding(id);
    if (url !== undefined) lines.push(`Store ${id}: bound to ${redactUrl(url)} (no database of its own; \`--unbind-store ${id}\` undoes it)`);
  }
  return { lines, warnings };
}
