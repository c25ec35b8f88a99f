/**
 * Rebuilding an index of 100,000 values on PostgreSQL, as a Store does when its indexer changed:
 * from the store's opening to the index whole (batches of 1,000 keys, each locked, indexed by the
 * JavaScript indexer and written, its progress recorded), against the floor a hand-written
 * migration would reach: one `INSERT … SELECT` computing the same entries in SQL into a fresh
 * table, then its index on `key`.
 *
 * Each round gives the index a new `version`, so each opening rebuilds it. Runs in a throwaway
 * database on the machine's PostgreSQL (INFRA_BENCH_PG_URL), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { rootId, Store } from 'infra-generator';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';
import { connected } from '../test/support/pg-query.ts';
import { admin, adminUrl, type Customer } from './store.bench.ts';
import { alternate, report } from './harness.ts';

const VALUES = 100_000;

const byUpperName = (customer: Customer) => [{ indexKey: customer.name.toUpperCase(), inlineValue: customer.visits }];

export async function benchIndexRebuild(): Promise<void> {
  const database = `bench_rebuild_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const sql = (text: string) => connected(url.toString(), (client) => client.query(text));
  let round = 0;
  try {
    const main = new Store<Customer>(rootId('bench-rebuild')`customers`).id.sqlName;
    await sql(`CREATE TABLE ${main} (key text COLLATE "C" PRIMARY KEY, value json)`);
    await sql(`
      INSERT INTO ${main} (key, value)
      SELECT 'customer-' || lpad(i::text, 6, '0'), json_build_object('id', i, 'name', 'Customer ' || (i % 1000), 'visits', i)
      FROM generate_series(1, ${VALUES}) AS i`);
    await sql(`VACUUM ANALYZE ${main}`);

    const ours = async () => {
      const root = rootId('bench-rebuild');
      const store = new Store<Customer>(root`customers`);
      const index = new store.Index(root`customers-by-name`, byUpperName, { version: round++ });
      const built: string[] = [];
      const backend = createPostgresStoreBackend(store, url.toString(), {
        log: { info: (m) => built.push(m), error: (m) => console.error(m) },
      });
      const start = performance.now();
      try {
        await backend.open();
        // A read waits for the build (up to its deadline), and is asked again until the index is whole.
        for (;;) {
          try {
            await backend.indexGet(index, 'CUSTOMER 1', false);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== 'INFRA_INDEX_REBUILDING') throw err;
          }
        }
        const seconds = (performance.now() - start) / 1000;
        if (!built.some((line) => line.includes(`is built: ${VALUES.toLocaleString('en')} of`)))
          throw new Error(`the build did not say it indexed every value:\n${built.join('\n')}`);
        return seconds;
      } finally {
        await backend.close();
      }
    };
    const baseline = async () => {
      const table = `hand_written_${round++}`;
      const start = performance.now();
      await sql(`
        CREATE TABLE ${table} (index_key text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, inline_value json,
          PRIMARY KEY (index_key, key))`);
      await sql(`
        INSERT INTO ${table} (index_key, key, inline_value)
        SELECT upper(value->>'name'), key, value->'visits' FROM ${main}`);
      await sql(`CREATE INDEX ON ${table} (key)`);
      const seconds = (performance.now() - start) / 1000;
      await sql(`DROP TABLE ${table}`);
      return seconds;
    };
    const result = await alternate(3, ours, baseline);
    report({
      name: `index rebuild of ${VALUES.toLocaleString('en')} values after its indexer changed (PostgreSQL, batches of 1,000)`,
      ours: { value: result.ours, unit: 's' },
      baseline: { value: result.baseline, unit: 's (one INSERT … SELECT computing the entries in SQL)' },
      roundRatio: result.roundRatio,
      better: 'lower',
    });
    console.log(
      `  index rebuild: ${Math.round(VALUES / result.ours).toLocaleString('en')} values/s rebuilt; ` +
        `${Math.round(VALUES / result.baseline).toLocaleString('en')} values/s in SQL alone`,
    );
  } finally {
    await admin(`DROP DATABASE ${database} WITH (FORCE)`);
  }
}

if (import.meta.main) await benchIndexRebuild();
