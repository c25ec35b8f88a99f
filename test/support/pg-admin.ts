/** One statement on this machine's PostgreSQL as its admin (CREATE/DROP DATABASE for tests and benchmarks). */
import pg from 'pg';

export const adminUrl = process.env.INFRA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function admin(query: string, url: string = adminUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}
