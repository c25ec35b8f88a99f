/**
 * The login role each Store's local database belongs to: what `POSTGRES_USER` and
 * `POSTGRES_PASSWORD` give the Store's own container in compose, made on a shared server. The
 * role owns its database and nothing else, may not make databases or roles, and logs in with
 * the Store's password from the value file; CONNECT on the database is revoked from PUBLIC, so
 * a persona with one Store's URL cannot open another Store's database.
 *
 * The runner makes and keeps the role in step through the admin URL on every run: a role left
 * with other attributes or another password (a value file made afresh) is set again, and a
 * database an earlier run made as the admin is handed over to the role with its tables.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createPool, sql, type CommonQueryMethods } from 'slonik';

/** What a Store's role may not do, as CREATE/ALTER ROLE clauses by their pg_roles column. */
const WITHOUT = [
  ['rolsuper', sql.fragment`NOSUPERUSER`],
  ['rolcreatedb', sql.fragment`NOCREATEDB`],
  ['rolcreaterole', sql.fragment`NOCREATEROLE`],
  ['rolreplication', sql.fragment`NOREPLICATION`],
  ['rolbypassrls', sql.fragment`NOBYPASSRLS`],
] as const;

type RoleAttributes = Record<(typeof WITHOUT)[number][0] | 'rolcanlogin' | 'expires', boolean>;

/** PostgreSQL's default iteration count for SCRAM-SHA-256 (`scram_iterations`). */
const SCRAM_ITERATIONS = 4096;

/**
 * The password as PostgreSQL stores it for scram-sha-256, made here so that the password
 * itself never reaches the server (nor its log, with `log_statement = 'all'`, nor
 * pg_stat_activity). PostgreSQL hashes a password's SASLprep form, which for ASCII is the
 * password itself; any other password is left to the server to hash (undefined).
 */
export function scramVerifier(password: string): string | undefined {
  if (!/^\p{ASCII}*$/u.test(password)) return undefined;
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const hmac = (text: string) => createHmac('sha256', salted).update(text).digest();
  const storedKey = createHash('sha256').update(hmac('Client Key')).digest();
  const serverKey = hmac('Server Key');
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const passwordClause = (password: string) =>
  sql.fragment`PASSWORD ${sql.literalValue(scramVerifier(password) ?? password)}`;

/** The SQLSTATE of a failed query (slonik wraps the driver's error). */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof e.cause?.code === 'string' ? e.cause.code : e.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Makes the login role `role` with `password`, or sets an existing one's password and takes
 * back any attribute or role membership it should not have. Only the attributes that differ
 * are named in ALTER ROLE: naming REPLICATION or BYPASSRLS at all takes a superuser, which the
 * admin URL of a server of one's own need not be.
 */
export async function ensureStoreRole(admin: CommonQueryMethods, role: string, password: string): Promise<void> {
  await makeOrRepairRole(admin, role, password);
  await letAdminActAs(admin, role);
}

/**
 * An admin that is not a superuser (a role with CREATEROLE and CREATEDB, as the README allows)
 * may make a database owned by `role`, or hand tables over to it, only as a member of it: since
 * PostgreSQL 16 creating a role no longer makes its creator one. A superuser needs nothing.
 */
async function letAdminActAs(admin: CommonQueryMethods, role: string): Promise<void> {
  const superuser = await admin.oneFirst(sql.unsafe`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`);
  if (superuser) return;
  const member = await admin.oneFirst(sql.unsafe`SELECT pg_has_role(current_user, ${role}, 'USAGE')`);
  if (!member) await admin.query(sql.unsafe`GRANT ${sql.identifier([role])} TO CURRENT_USER`);
}

async function makeOrRepairRole(admin: CommonQueryMethods, role: string, password: string): Promise<void> {
  const name = sql.identifier([role]);
  const found = async () =>
    (await admin.maybeOne(sql.unsafe`
      SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin,
             rolvaliduntil IS NOT NULL AS expires
      FROM pg_roles WHERE rolname = ${role}`)) as RoleAttributes | null;
  let attributes = await found();
  if (!attributes) {
    try {
      await admin.query(sql.unsafe`
        CREATE ROLE ${name} WITH LOGIN ${sql.join(
          WITHOUT.map(([, clause]) => clause),
          sql.fragment` `,
        )} ${passwordClause(password)}`);
      return;
    } catch (err) {
      // Made in the meantime by a run on another admin connection (42710: duplicate_object).
      if (sqlState(err) !== '42710') throw err;
      attributes = (await found())!;
    }
  }
  const clauses = [
    ...WITHOUT.filter(([column]) => attributes[column]).map(([, clause]) => clause),
    ...(attributes.rolcanlogin ? [] : [sql.fragment`LOGIN`]),
    ...(attributes.expires ? [sql.fragment`VALID UNTIL 'infinity'`] : []),
    // Set on every run: the value file's password may have changed (made afresh), and only a
    // superuser could read the stored one to compare.
    passwordClause(password),
  ];
  await admin.query(sql.unsafe`ALTER ROLE ${name} WITH ${sql.join(clauses, sql.fragment` `)}`);
  // Membership of another role (pg_read_all_data, a hand's GRANT) would lend it that role's rights.
  const grants = (await admin.any(sql.unsafe`
    SELECT pg_get_userbyid(roleid) AS granted, pg_get_userbyid(grantor) AS grantor
    FROM pg_auth_members WHERE member = ${role}::regrole`)) as readonly { granted: string; grantor: string }[];
  for (const { granted, grantor } of grants)
    await admin.query(
      sql.unsafe`REVOKE ${sql.identifier([granted])} FROM ${name} GRANTED BY ${sql.identifier([grantor])}`,
    );
}

/**
 * Hands the tables of the database `adminUrlOfDatabase` names (made by an earlier run as the
 * admin) over to `role`; their indexes and sequences follow them. REASSIGN OWNED would also
 * give away what the admin owns in every other database of a shared server.
 */
export async function handOverTables(adminUrlOfDatabase: string, role: string): Promise<void> {
  const pool = await createPool(adminUrlOfDatabase, {
    maxPoolSize: 1,
    connectionRetryLimit: 0,
    connectionTimeout: 5_000,
  });
  try {
    const tables = (await pool.any(sql.unsafe`
      SELECT n.nspname AS schema, c.relname AS table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND c.relowner <> ${role}::regrole
      ORDER BY c.relname`)) as readonly { schema: string; table: string }[];
    for (const t of tables)
      await pool.query(
        sql.unsafe`ALTER TABLE ${sql.identifier([t.schema, t.table])} OWNER TO ${sql.identifier([role])}`,
      );
  } finally {
    await pool.end();
  }
}
