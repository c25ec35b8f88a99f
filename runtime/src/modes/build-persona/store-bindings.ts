/**
 * Binding a Store to an existing PostgreSQL (a managed database) instead of giving it its own:
 *
 *   npm run infra:build -- --bind-store my-app.customer-server.db=postgres://app:pw@db.example.com/customers
 *   npm run infra:build -- --bind-store my-app.customer-server.db=env:CUSTOMERS_DB_URL
 *   npm run infra:build -- --unbind-store my-app.customer-server.db
 *
 * A binding is kept in the value file (0600): a later build without the flag must not quietly
 * swap the app onto an empty database of its own. A URL is kept as given (with its password);
 * `env:NAME` is kept as that reference and read from the build's environment at every build, so
 * a CI secret stays out of the command line and out of the file, and a rotated password needs
 * no new binding. Every build checks every binding it uses, as the Store's driver (slonik) will
 * read it, so a URL the deployed app would refuse stops the build instead.
 *
 * A bound Store gets no database container, StatefulSet, volume or network; its URL reaches the
 * same personas (its owners) as its own database's URL would. Local processes keep their own
 * local databases, so debugging never writes to the bound one.
 */
import { basename } from 'node:path';
import { parseDsn } from 'slonik';
import type { App } from '../../core/app.ts';
import { Store } from '../../components/store/store.ts';
import { bindingVariable, type ValueFile } from '../../values/value-file.ts';
import { redactUrl } from '../../resources/databases.ts';
import { errors } from '../../core/errors.ts';

export interface BindingRequests {
  /** Store ID to what to keep: a connection URL, or `env:NAME`. */
  readonly bind: ReadonlyMap<string, string>;
  readonly unbind: ReadonlySet<string>;
  /** The build's environment, which `env:NAME` bindings (given now or kept) are read from. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The start of an argument, shown in its error, when it is not the URL itself: a value without
 * a Store ID in front may be a URL with its password.
 */
function shownStart(given: string): string | undefined {
  const head = given.split('=', 1)[0];
  return /^[a-z][a-z0-9+.-]*:|@/i.test(head) ? undefined : head;
}

/**
 * The requests of `--bind-store STORE_ID=URL|env:NAME` and `--unbind-store STORE_ID` (as parsed
 * by modes/command-line.ts).
 */
export function bindingRequests(
  binds: readonly string[],
  unbinds: readonly string[],
  env: NodeJS.ProcessEnv,
): BindingRequests {
  const bind = new Map<string, string>();
  for (const given of binds) {
    // The ID ends at the first `=` that a scheme follows: an ID may hold `=`, a URL's query does.
    const match = /^(.+?)=([a-z][a-z0-9+.-]*:.*)$/is.exec(given);
    const start = shownStart(given);
    if (!match || start === undefined) {
      throw errors.bindingArgument(
        '--bind-store',
        !given
          ? 'needs a value'
          : start === undefined
            ? 'is not understood (the value is not shown: it may hold a password)'
            : `${JSON.stringify(`${start}=…`)} is not understood`,
      );
    }
    const [, id, kept] = match;
    if (bindingVariable(kept) === '')
      throw errors.bindingArgument('--bind-store', `${JSON.stringify(`${id}=env:`)} names no variable`);
    if (bind.has(id)) throw errors.bindingArgument('--bind-store', `${JSON.stringify(id)} is given twice`);
    bind.set(id, kept);
  }
  const unbind = new Set(unbinds);
  for (const id of unbind)
    if (bind.has(id))
      throw errors.bindingArgument('--unbind-store', `${JSON.stringify(id)} is also given to --bind-store`);
  return { bind, unbind, env };
}

/** The query parameters slonik reads (its parseDsn); it ignores any other one. */
const DRIVER_PARAMETERS = ['application_name', 'options', 'sslmode'];
const SSL_MODES = ['disable', 'no-verify', 'require'];
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3})$/i;

/**
 * Checks `url` as the connection URL of Store `storeId`, as the Store's driver (slonik's
 * parseDsn) will read it in the deployed app, refusing what it would refuse or quietly
 * ignore. `source` names where the URL came from for messages (never the URL: it holds a
 * password); `kept` whether the binding is already kept. Returns warnings for what is valid
 * but likely wrong.
 */
export function checkStoreUrl(storeId: string, url: string, source = 'the URL given', kept = false): string[] {
  const refuse = (reason: string) => errors.invalidStoreUrl(storeId, source, reason, kept);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse('it is not a URL (are /, @, :, # or spaces in the password percent-encoded?)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw refuse(`its scheme is ${parsed.protocol.replace(/:$/, '')}, not postgres`);
  if (parsed.hash)
    throw refuse('it has a #… part, which the driver ignores (is a # in the password percent-encoded as %23?)');
  for (const [name, value] of parsed.searchParams) {
    if (name === 'user' || name === 'password') {
      throw refuse(
        `the driver ignores ?${name}=: put the user and password before the host, postgres://user:password@host:5432/database (percent-encoded)`,
      );
    }
    if (name === 'sslrootcert' || name === 'sslcert' || name === 'sslkey') {
      // The driver reads the file when the Store connects, inside a container whose image has no such file.
      throw refuse(
        `?${name}= names a file, which the deployed app's image does not contain; use ?sslmode=require (the server's certificate checked against the usual CAs) or ?sslmode=no-verify (encrypted, unchecked)`,
      );
    }
    if (name === 'sslmode' && !SSL_MODES.includes(value))
      throw refuse(`the driver knows no sslmode=${value}: use ${SSL_MODES.join(', ')}`);
    if (name === 'host') throw refuse('?host= is not read when the URL names a host: put the host after the @');
    if (!DRIVER_PARAMETERS.includes(name))
      throw refuse(`the driver ignores ?${name}=; it reads only ${DRIVER_PARAMETERS.join(', ')}`);
  }
  let options: ReturnType<typeof parseDsn>;
  try {
    options = parseDsn(url);
  } catch {
    throw refuse('the driver (slonik) cannot read it');
  }
  if (!options.host) throw refuse('it names no host');
  if (options.host.startsWith('['))
    throw refuse('the driver cannot connect to an IPv6 address; use a host name that resolves to it');
  if (options.port === 0) throw refuse('its port is 0');
  // The driver takes the first segment of the path and drops the rest.
  if (!options.databaseName || parsed.pathname.split('/').length > 2)
    throw refuse('it names no database (…/DATABASE at the end of the path, nothing after it)');
  if (!options.username) throw refuse('it names no user (postgres://user:password@host:5432/database)');
  if (LOOPBACK.test(options.host)) {
    return [
      `Store ${storeId} is bound to ${options.host}: inside a container or pod that is the container itself, not this machine. Use a host name the containers can resolve`,
    ];
  }
  return [];
}

/** A binding as messages show it: `env:NAME`, or the URL with its secrets masked. */
function shownBinding(kept: string): string {
  return bindingVariable(kept) === undefined ? redactUrl(kept) : kept;
}

/**
 * Applies `requests` to `file` (which keeps the bindings) for the Stores of `app`, then reads
 * and checks the URL of every binding of a Store in the tree. Returns those URLs (for this build
 * only: `env:NAME` is read again by the next) and what to tell the user. A binding of a Store no
 * longer in the tree is kept, like its password, in case it comes back, and can be removed.
 */
export function applyBindings(
  app: App,
  file: ValueFile,
  requests: BindingRequests,
): { urls: Map<string, string>; lines: string[]; warnings: string[] } {
  const stores = app.components.filter(Store.isStore).map((s) => s.id.value);
  for (const id of requests.bind.keys()) if (!stores.includes(id)) throw errors.unknownStore(id, stores);
  for (const id of requests.unbind)
    if (!stores.includes(id) && file.keptBinding(id) === undefined) throw errors.unknownStore(id, stores);
  const urls = new Map<string, string>();
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const [id, kept] of requests.bind) file.bind(id, kept);
  for (const id of requests.unbind) {
    if (!file.unbind(id)) {
      lines.push(`Store ${id} was not bound; nothing to unbind`);
    } else if (stores.includes(id)) {
      warnings.push(
        `Store ${id} is no longer bound: it gets its own database again, which does not have the data of the one it was bound to`,
      );
    } else {
      lines.push(`Store ${id} (no longer in the code) is no longer bound`);
    }
  }
  for (const id of file.boundStores.sort()) {
    const kept = file.keptBinding(id)!;
    if (!stores.includes(id)) {
      warnings.push(
        `Store ${id} is no longer in the code, but ${basename(file.path)} still binds it to ${shownBinding(kept)} (kept in case it comes back). ` +
          `\`npm run infra:build -- --unbind-store ${id}\` removes the binding`,
      );
      continue;
    }
    const given = requests.bind.has(id);
    const variable = bindingVariable(kept);
    let url = kept;
    if (variable !== undefined) {
      url = requests.env[variable] ?? '';
      if (url === '') throw errors.bindingEnvMissing(id, variable, !given);
    }
    const source =
      variable !== undefined
        ? `the URL in ${variable}`
        : given
          ? 'the URL given'
          : `the URL kept in ${basename(file.path)}`;
    warnings.push(...checkStoreUrl(id, url, source, !given));
    urls.set(id, url);
    const from = variable === undefined ? '' : `, read from ${variable} at every build`;
    lines.push(
      `Store ${id}: bound to ${redactUrl(url)} (no database of its own${from}; \`--unbind-store ${id}\` undoes it)`,
    );
  }
  return { urls, lines, warnings };
}
