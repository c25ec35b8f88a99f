/**
 * Store on PostgreSQL: `get`, `set` and `modify` through the Store facade (the deployed
 * platform's backend, slonik) against raw `pg` running the same SQL on a table of the same
 * shape, with the same pool size (10) and the same number of calls in flight. Both sides
 * stringify and parse the JSON values themselves, as the store does.
 *
 * Runs in a throwaway database on the machine's PostgreSQL (INFRA_BENCH_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
 */
import pg from 'pg';
import { admin as adminAs } from '../test/support/pg-query.ts';
import { randomBytes } from 'node:crypto';
import { rootId, appOf, Store, ApiServer } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { STORE_POOL } from 'infra-generator/internal/components/connection-limits';
import { createStorePool } from 'infra-generator/internal/components/store/postgres-pool';
import { sql } from 'slonik';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { alternate, report, throughput } from './harness.ts';

export const adminUrl = process.env.INFRA_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const IN_FLIGHT = 32;
const POOL_SIZE = STORE_POOL.default;
export const KEYS = 1000;

export interface Customer {
  id: string;
  name: string;
  visits: number;
}

export const keyOf = (i: number) => `customer-${(i * 7919) % KEYS}`;
export const valueOf = (i: number): Customer => ({ id: keyOf(i), name: `Customer ${i}`, visits: i });
/** modify()'s function in every case: one more visit. */
export const bump = (old: Customer | undefined): Customer => ({
  ...(old ?? valueOf(0)),
  visits: (old?.visits ?? 0) + 1,
});

export async function admin(query: string): Promise<void> {
  await adminAs(query, adminUrl);
}

type RawStore = Pick<ReturnType<typeof rawStore>, 'get' | 'set' | 'modify'>;

/** The texts of the statements the PostgreSQL backend sends (postgres.ts) for `table`. */
function statementTexts(table: string) {
  return {
    get: `SELECT value::text FROM ${table} WHERE key = $1`,
    set: `INSERT INTO ${table} AS t (key, value) VALUES ($1, $2::json) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    lock: `INSERT INTO ${table} AS t (key, value) VALUES ($1, NULL) ON CONFLICT (key) DO UPDATE SET value = t.value RETURNING value::text`,
    update: `UPDATE ${table} SET value = $2::json WHERE key = $1`,
  };
}

/**
 * The same statements the PostgreSQL backend sends (postgres.ts), on a table of the same shape:
 * as pg sends them by default (unnamed: parsed and planned on every call), or, with `named`,
 * as named prepared statements, like the store's own.
 */
export function rawStore(pool: pg.Pool, table: string, named: boolean) {
  const texts = statementTexts(table);
  const q = (name: keyof typeof texts) =>
    named ? { name: `${table}_${name}`, text: texts[name] } : { text: texts[name] };
  const [select, upsert, lock, update] = [q('get'), q('set'), q('lock'), q('update')];
  return {
    async get(key: string): Promise<unknown> {
      const { rows } = await pool.query<{ value: string }>({ ...select, values: [key] });
      return rows.length === 0 ? undefined : JSON.parse(rows[0].value);
    },
    async set(key: string, value: unknown): Promise<void> {
      await pool.query({ ...upsert, values: [key, JSON.stringify(value)] });
    },
    async modify<T>(key: string, fn: (old: T | undefined) => T): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ value: string | null }>({ ...lock, values: [key] });
        const old = rows[0].value === null ? undefined : (JSON.parse(rows[0].value) as T);
        const text = JSON.stringify(fn(old));
        await client.query({ ...update, values: [key, text] });
        await client.query('COMMIT');
        client.release();
        return JSON.parse(text) as T;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        client.release(err as Error);
        throw err;
      }
    },
  };
}

/**
 * The same statements through slonik alone, with the store's own pool settings
 * (postgres-pool.ts), as named prepared statements built once: what slonik itself costs, apart
 * from the Store's own layer (checks, deadlines, queues, indexes).
 */
export async function slonikStore(url: string, table: string) {
  const pool = await createStorePool(url, 'bench-slonik', POOL_SIZE);
  // A query token as sql.unsafe makes it, with the text and values given: built without the tag.
  const base = sql.unsafe`SELECT 1`;
  const texts = statementTexts(table);
  const statement = (name: keyof typeof texts) => (values: (string | null)[]) => ({
    ...base,
    sql: texts[name],
    values,
    name: `slonik_${table}_${name}`,
  });
  const [select, upsert, lock, update] = [statement('get'), statement('set'), statement('lock'), statement('update')];
  return {
    async get(key: string): Promise<unknown> {
      const text = await pool.connect((c) => c.maybeOneFirst(select([key])));
      return text === null ? undefined : JSON.parse(text as string);
    },
    async set(key: string, value: unknown): Promise<void> {
      await pool.connect((c) => c.query(upsert([key, JSON.stringify(value)])));
    },
    modify<T>(key: string, fn: (old: T | undefined) => T): Promise<T> {
      return pool.connect((c) =>
        c.transaction(async (tx) => {
          const oldText = (await tx.oneFirst(lock([key]))) as string | null;
          const text = JSON.stringify(fn(oldText === null ? undefined : (JSON.parse(oldText) as T)));
          await tx.query(update([key, text]));
          return JSON.parse(text) as T;
        }, 0),
      );
    },
    end: () => pool.end(),
  };
}

export async function benchStore(): Promise<void> {
  const database = `bench_store_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;

  const id = rootId('bench-store');
  const api = new ApiServer(id`api`);
  const store = new Store<Customer>(id`customers`);
  const listing = new Store<Customer>(id`listing`);
  const platform = new DeployedPlatform({
    env: { [wiring.storeUrl(store.id)]: url.toString(), [wiring.storeUrl(listing.id)]: url.toString() },
    persona: api,
    log: { info() {}, error: console.error },
  });
  appOf(id).enter('runtime', platform);
  const pool = new pg.Pool({ connectionString: url.toString(), max: POOL_SIZE });
  const raw = rawStore(pool, 'raw_customers', false);
  const rawNamed = rawStore(pool, 'raw_customers', true);
  try {
    await pool.query('CREATE TABLE raw_customers (key text COLLATE "C" PRIMARY KEY, value json)');
    // Calls run as the API persona, as they do inside a handler.
    const ours = <R>(fn: () => Promise<R>) => runAs(appOf(id), api, fn);
    for (let i = 0; i < KEYS; i++) {
      await ours(() => store.set(keyOf(i), valueOf(i)));
      await raw.set(keyOf(i), valueOf(i));
    }
    const cases: [string, number, (i: number) => Promise<unknown>, (r: RawStore, i: number) => Promise<unknown>][] = [
      ['get', 20_000, (i) => ours(() => store.get(keyOf(i))), (r, i) => r.get(keyOf(i))],
      ['set', 10_000, (i) => ours(() => store.set(keyOf(i), valueOf(i))), (r, i) => r.set(keyOf(i), valueOf(i))],
      ['modify', 5_000, (i) => ours(() => store.modify(keyOf(i), bump)), (r, i) => r.modify(keyOf(i), bump)],
    ];
    for (const [name, count, oursOp, rawOp] of cases) {
      const result = await alternate(
        5,
        () => throughput(count, IN_FLIGHT, oursOp),
        () => throughput(count, IN_FLIGHT, (i) => rawOp(raw, i)),
      );
      report({
        name: `store ${name} (PostgreSQL, ${IN_FLIGHT} in flight, pool ${POOL_SIZE})`,
        ours: { value: result.ours, unit: 'ops/s' },
        baseline: { value: result.baseline, unit: 'ops/s (raw pg, same SQL)' },
        roundRatio: result.roundRatio,
        better: 'higher',
        // Issue 17: at least as fast as a plain pg program written the ordinary way.
        target: 1,
      });
    }
    // The store sends named prepared statements; raw pg can too, by hand: within 10 % of that.
    for (const [name, count, oursOp, rawOp] of cases) {
      const result = await alternate(
        5,
        () => throughput(count, IN_FLIGHT, oursOp),
        () => throughput(count, IN_FLIGHT, (i) => rawOp(rawNamed, i)),
      );
      report({
        name: `store ${name} vs named statements (PostgreSQL, ${IN_FLIGHT} in flight, pool ${POOL_SIZE})`,
        ours: { value: result.ours, unit: 'ops/s' },
        baseline: { value: result.baseline, unit: 'ops/s (raw pg, same SQL, named prepared statements)' },
        roundRatio: result.roundRatio,
        better: 'higher',
        target: 0.9,
      });
    }
    // Slonik alone against the same named statements in raw pg: the part of the gap that is
    // slonik's own (acquiring a connection, its query routine), not the Store's.
    const slonik = await slonikStore(url.toString(), 'raw_customers');
    try {
      for (const [name, count, , rawOp] of cases) {
        const result = await alternate(
          5,
          () => throughput(count, IN_FLIGHT, (i) => rawOp(slonik, i)),
          () => throughput(count, IN_FLIGHT, (i) => rawOp(rawNamed, i)),
        );
        report({
          name: `slonik alone, ${name} vs named statements (PostgreSQL, ${IN_FLIGHT} in flight, pool ${POOL_SIZE})`,
          ours: { value: result.ours, unit: 'ops/s (slonik, the store pool settings)' },
          baseline: { value: result.baseline, unit: 'ops/s (raw pg, same SQL, named prepared statements)' },
          roundRatio: result.roundRatio,
          better: 'higher',
        });
      }
    } finally {
      await slonik.end();
    }
    await benchListing(ours, listing);
  } finally {
    await pool.end();
    await platform.close();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

/** How many values the listing benchmark lists. */
const LISTED = 10_000;

/**
 * Listing a whole store of 10,000 values: `entries()` (a round trip per hundred values) against
 * what apps wrote before it existed, `allKeys()` and a `get()` per key (a round trip per value).
 */
async function benchListing(ours: <R>(fn: () => Promise<R>) => Promise<R>, listing: Store<Customer>): Promise<void> {
  await throughput(LISTED, IN_FLIGHT, (i) => ours(() => listing.set(`customer-${i}`, valueOf(i))));
  const listWith = (read: () => Promise<number>) => async () => {
    const start = performance.now();
    const count = await ours(read);
    if (count !== LISTED) throw new Error(`listed ${count} values, not ${LISTED}`);
    return count / ((performance.now() - start) / 1000);
  };
  const result = await alternate(
    3,
    listWith(async () => {
      let count = 0;
      for await (const [, value] of listing.entries()) count += value ? 1 : 0;
      return count;
    }),
    listWith(async () => {
      let count = 0;
      for await (const key of listing.allKeys()) count += (await listing.get(key)) ? 1 : 0;
      return count;
    }),
  );
  report({
    name: `store listing of ${LISTED} values: entries() vs allKeys() and a get() per key (PostgreSQL)`,
    ours: { value: result.ours, unit: 'values/s' },
    baseline: { value: result.baseline, unit: 'values/s (allKeys + get)' },
    roundRatio: result.roundRatio,
    better: 'higher',
  });
}

if (import.meta.main) await benchStore();
