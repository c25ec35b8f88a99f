/** One statement on a PostgreSQL as its admin (CREATE/DROP DATABASE for tests and benchmarks). */
import pg from 'pg';

export async function admin(query: string, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}
