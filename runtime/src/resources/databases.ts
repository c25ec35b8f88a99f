/**
 * The local-processes mode's Stores: each in its own database on a PostgreSQL of this
 * machine, owned by a login role of its own, created on first use and kept (like a compose
 * volume) across runs.
 *
 * A database is named for the Store and for the build folder it was run from, so two
 * checkouts of one app (or a test's temporary build) never share data, while one checkout
 * finds its data again on every run.
 */
import { createPool, sql, type CommonQueryMethods } from 'slonik';
import { realpathSync } from 'node:fs';
import type { StorePlan } from '../plan/plan.ts';
import { shortHash } from '../private/hash.ts';
import { errors } from '../core/errors.ts';
import { ensureStoreRole, handOverTables, sqlState } from './store-roles.ts';

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
 * Query parameters of the admin URL a Store's URL keeps: where the server is and how to reach
 * it, never whose credentials (`user`, `password`, `sslcert`, `sslkey`, `passfile`, …): a Store's
 * own role logs in with its password.
 */
const KEPT_FOR_STORES = new Set([
  'application_name',
  'connect_timeout',
  'host',
  'port',
  'sslmode',
  'sslrootcert',
  'target_session_attrs',
]);

/** The URL of `role` with `password` to `database` on the server of `adminUrl`. */
export function storeUrl(adminUrl: string, database: string, role: string, password: string): string {
  const url = new URL(databaseUrl(adminUrl, database));
  const query = new URLSearchParams();
  for (const [name, value] of url.searchParams) if (KEPT_FOR_STORES.has(name.toLowerCase())) query.append(name, value);
  if (!url.host) {
    // A Unix socket's folder in `?host=` (`postgres:///db?host=/run/postgresql`): a URL with no
    // host cannot hold a user, and the Stores' driver reads none from the query, so the folder
    // goes where the host goes, encoded (none named: node-postgres's default, localhost).
    url.host = encodeURIComponent(query.get('host') || 'localhost');
    query.delete('host');
  }
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  url.search = query.toString();
  url.hash = '';
  return url.toString();
}

/** One run at a time alters the Stores' roles on a server (concurrent ALTER ROLE of one role fails). */
const ROLES_LOCK = sql.fragment`hashtextextended('infra-generator: local store roles', 0)`;

/**
 * Gives each of `stores` its database and login role on the server of `adminUrl` (made, or
 * kept in step: see store-roles.ts); resolves to each Store's connection URL, which names its
 * role and password and never the admin's.
 *
 * The role is named as its database (roles and databases are apart in PostgreSQL), so two
 * apps or two checkouts on one server never share one, as they never share a database.
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
    await pool.connect(async (admin) => {
      await admin.query(sql.unsafe`SELECT pg_advisory_lock(${ROLES_LOCK})`);
      try {
        for (const store of stores) {
          const id = store.store.id.value;
          const database = localDatabaseName(store.database, buildDir);
          const role = database;
          const roleFailed = (err: unknown) => errors.localStoreRole(id, database, role, redactUrl(adminUrl), err);
          await ensureStoreRole(admin, role, store.password).catch((err) => {
            throw roleFailed(err);
          });
          const owner = await ensureDatabase(admin, database, role).catch((err) => {
            throw errors.localDatabase(id, redactUrl(adminUrl), err);
          });
          await giveDatabaseTo(admin, adminUrl, database, role, owner).catch((err) => {
            throw roleFailed(err);
          });
          urls.set(store, storeUrl(adminUrl, database, role, store.password));
        }
      } finally {
        await admin.query(sql.unsafe`SELECT pg_advisory_unlock(${ROLES_LOCK})`);
      }
    });
  } finally {
    await pool.end();
  }
  return urls;
}

/** Makes `database`, owned by `role`, unless it exists; resolves to its owner. */
async function ensureDatabase(admin: CommonQueryMethods, database: string, role: string): Promise<string> {
  const ownerOf = async () =>
    (await admin.maybeOneFirst(
      sql.unsafe`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${database}`,
    )) as string | null;
  const owner = await ownerOf();
  if (owner !== null) return owner;
  try {
    await admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([database])} OWNER ${sql.identifier([role])}`);
    return role;
  } catch (err) {
    // Another runner made it in the meantime (42P04: duplicate_database).
    if (sqlState(err) !== '42P04') throw err;
    return (await ownerOf())!;
  }
}

/**
 * Hands `database` over to `role` if an earlier run made it as the admin (its tables first, the
 * database last, so a database the role owns was handed over whole); then only its owner (and
 * superusers) may connect to it.
 */
async function giveDatabaseTo(
  admin: CommonQueryMethods,
  adminUrl: string,
  database: string,
  role: string,
  owner: string,
): Promise<void> {
  const name = sql.identifier([database]);
  if (owner !== role) {
    await handOverTables(databaseUrl(adminUrl, database), role);
    await admin.query(sql.unsafe`ALTER DATABASE ${name} OWNER TO ${sql.identifier([role])}`);
  }
  await admin.query(sql.unsafe`REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC`);
}
