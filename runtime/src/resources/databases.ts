/**
 * The local-processes mode's Stores: each in its own database on a PostgreSQL of this
 * machine, created on first use and kept (like a compose volume) across runs.
 *
 * A database is named for the Store and for the build folder it was run from, so two
 * checkouts of one app (or a test's temporary build) never share data, while one checkout
 * finds its data again on every run.
 */
import { createPool, sql } from 'slonik';
import { realpathSync } from 'node:fs';
import type { StorePlan } from '../plan/plan.ts';
import { shortHash } from '../private/hash.ts';
import { errors } from '../core/errors.ts';

const MAX_IDENTIFIER = 63;

/** The local database of the Store whose SQL name is `sqlName`, for the build folder `buildDir`. */
export function localDatabaseName(sqlName: string, buildDir: string): string {
  let folder = buildDir;
  try {
    folder = realpathSync(buildDir);
  } catch {
    // Not created yet: the path as given names it.
  }
  const suffix = `_${shortHash(folder)}`;
  return sqlName.slice(0, MAX_IDENTIFIER - suffix.length).replace(/_+$/, '') + suffix;
}

/** The admin URL with its database replaced by `database`. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/**
 * Query parameters of connection URLs that never hold a secret (libpq's and slonik's names); a
 * message shows their values and masks every other one (`password`, `sslpassword`, a driver's
 * token, …), so a parameter nobody thought of does not leak.
 */
const SHOWN_PARAMETERS = new Set([
  'application_name',
  'connect_timeout',
  'dbname',
  'host',
  'options',
  'port',
  'sslcert',
  'sslkey',
  'sslmode',
  'sslrootcert',
  'target_session_attrs',
  'user',
]);

/**
 * A connection URL for messages: its password and the values of its query parameters that may
 * hold secrets masked, its fragment dropped. Text that is not a URL is shown as none of it.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '(an invalid URL)';
  }
  if (url.password) url.password = '***';
  if (url.search) {
    const query = new URLSearchParams();
    for (const [name, value] of url.searchParams)
      query.append(name, SHOWN_PARAMETERS.has(name.toLowerCase()) ? value : '***');
    url.search = query.toString();
  }
  url.hash = '';
  return url.toString();
}

/**
 * Creates the missing databases of `stores` through `adminUrl`; resolves to each Store's
 * connection URL (the admin URL's server and role, the Store's own database).
 */
export async function ensureLocalDatabases(
  stores: readonly StorePlan[],
  adminUrl: string,
  buildDir: string,
): Promise<Map<StorePlan, string>> {
  const urls = new Map<StorePlan, string>();
  if (stores.length === 0) return urls;
  let pool;
  try {
    pool = await createPool(adminUrl, { maxPoolSize: 1, connectionRetryLimit: 0, connectionTimeout: 5_000 });
  } catch (err) {
    throw errors.localDatabase(stores[0].store.id.value, redactUrl(adminUrl), err);
  }
  try {
    for (const store of stores) {
      const database = localDatabaseName(store.database, buildDir);
      try {
        const exists = await pool.exists(sql.unsafe`SELECT 1 FROM pg_database WHERE datname = ${database}`);
        if (!exists) {
          try {
            await pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([database])}`);
          } catch (err) {
            // Another runner created it in the meantime (42P04: duplicate_database).
            if (
              (err as { cause?: { code?: string } }).cause?.code !== '42P04' &&
              (err as { code?: string }).code !== '42P04'
            )
              throw err;
          }
        }
      } catch (err) {
        throw errors.localDatabase(store.store.id.value, redactUrl(adminUrl), err);
      }
      urls.set(store, databaseUrl(adminUrl, database));
    }
  } finally {
    await pool.end();
  }
  return urls;
}
