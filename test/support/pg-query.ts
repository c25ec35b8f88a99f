/** Statements on a PostgreSQL from tests and benchmarks, each on a connection of its own. */
import pg from 'pg';

/** Runs `fn` with a client connected to `url`, and closes the client after. */
export async function connected<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One statement as the admin (CREATE/DROP DATABASE). */
export async function admin(query: string, url: string): Promise<void> {
  await connected(url, (client) => client.query(query));
}
