/**
 * The Store contract, unchanged, against the PostgreSQL backend on the tests' server
 * (support/pg-admin.ts: INFRA_TEST_PG_URL, or an embedded one), then what only a shared database can show: several
 * pools (as several processes would have) on one store, values kept to the byte, keys
 * PostgreSQL cannot hold, and failures that name the store.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { rootId, appOf, Store } from 'infra-generator';
import { storeContract } from './store-contract.ts';
import { currentContext, runAs } from 'infra-generator/internal/core/app';
import { StorePlatform } from '../support/store-platform.ts';
import type { StoreBackend } from 'infra-generator/internal/components/store/backend';
import type { Json } from 'infra-generator/internal/core/json';
import type { Logger } from 'infra-generator/internal/core/logger';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';

import { adminUrl as url, dropTables as dropTablesOn } from '../support/pg-admin.ts';

/** Every table a backend of these tests may have created, dropped at the end. */
const tables = new Set<string>();

function track(store: Store<any>): void {
  tables.add(store.id.sqlName);
  for (const index of store.indexes) tables.add(index.id.sqlName);
}

function backendOf(store: Store<any>, options: { url?: string; log?: Logger } = {}): StoreBackend {
  track(store);
  return createPostgresStoreBackend(store, options.url ?? url, { log: options.log });
}

/** A deployed-mode platform reduced to what a Store needs. */
class PostgresStorePlatform extends StorePlatform {
  constructor(options: { url?: string; log?: Logger } = {}) {
    super((store) => backendOf(store, options));
  }
}

const dropTables = () => dropTablesOn(tables, url);

const quiet: Logger = { info() {}, error() {} };

storeContract({
  name: 'PostgreSQL',
  platform: () => new PostgresStorePlatform({ log: quiet }),
});

// ---------------------------------------------------------------------------------------------

interface Item {
  name?: string;
  n?: number;
  tags?: string[];
}

const test = suite('Store on PostgreSQL');
const run = randomBytes(3).toString('hex');
let counter = 0;
const closers: (() => Promise<void>)[] = [];

/** A fresh store (with a by-tag index) in a fresh app, running on `platform`. */
function fixture(platform = new PostgresStorePlatform({ log: quiet })) {
  const root = rootId(`pgtest-${run}-${counter++}`);
  const store = new Store<Item>(root`items`);
  const byTag = new store.Index(root`items-by-tag`, (item) => (item?.tags ?? []).map((tag) => ({ indexKey: tag })));
  appOf(root).enter('runtime', platform);
  closers.push(() => platform.close());
  return { root, store, byTag, platform };
}

/** `n` backends of one store, each with its own pool, as `n` processes would have. */
function pools(store: Store<any>, n: number): StoreBackend[] {
  const backends = Array.from({ length: n }, () => backendOf(store));
  closers.push(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
  return backends;
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test.after(async () => {
  await Promise.all(closers.map((close) => close()));
  await dropTables();
});

test('values come back with the JSON text they were stored with, key order included', async () => {
  const { store } = fixture();
  await store.set('o', { n: 1, name: 'b first', tags: ['z', 'a'], zz: { y: 1, b: 2 } } as Item);
  const got = (await store.get('o')) as Record<string, unknown>;
  assert.equal(Object.keys(got), ['n', 'name', 'tags', 'zz']);
  assert.equal(Object.keys(got.zz as object), ['y', 'b']);
  await store.set('deep', { name: '\u0000\u0001"\\\u2028😀' });
  assert.is((await store.get('deep'))!.name, '\u0000\u0001"\\\u2028😀');
});

test('several pools on one store: first use creates the tables once, and 50 modify calls on a missing key give 50', async () => {
  const { store } = fixture();
  const backends = pools(store, 5);
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      backends[i % backends.length].modify('counter', async (old) => {
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        return { n: ((old as Item | undefined)?.n ?? 0) + 1 };
      }),
    ),
  );
  assert.equal(await store.get('counter'), { n: 50 });
});

test('several pools writing, modifying and deleting overlapping keys leave every index matching the values', async () => {
  const { store, byTag } = fixture();
  const backends = pools(store, 3);
  const tags = ['a', 'b', 'c', 'd', 'e'];
  await Promise.all(
    Array.from({ length: 12 }, (_, w) =>
      (async () => {
        const backend = backends[w % backends.length];
        for (let i = 0; i < 15; i++) {
          const key = `k${(w * 7 + i) % 8}`;
          const value: Json = { n: i, tags: [tags[(w + i) % 5], tags[(w * i) % 5]] };
          if (i % 5 === 4) await backend.set(key, undefined);
          else if (i % 2 === 0) await backend.set(key, value);
          else
            await backend.modify(key, async (old) =>
              old === undefined ? value : { ...(old as object), tags: [tags[i % 5]] },
            );
        }
      })(),
    ),
  );
  const expected = new Map<string, string[]>();
  for await (const key of store.allKeys({ batchSize: 3 })) {
    for (const tag of new Set((await store.get(key))!.tags)) expected.set(tag, [...(expected.get(tag) ?? []), key]);
  }
  for (const tag of tags) {
    const hits = await byTag.get(tag, { retrieveValues: true });
    assert.equal(
      hits.map((h) => h.key),
      expected.get(tag) ?? [],
      `index entries for tag ${tag}`,
    );
    for (const hit of hits) assert.ok(hit.value!.tags!.includes(tag), `${hit.key}'s value has tag ${tag}`);
  }
});

test('several pools running setMany on overlapping keys in opposite orders, with set and delete beside, never deadlock', async () => {
  const { store, byTag } = fixture();
  const backends = pools(store, 4);
  const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  // Opposite orders across pools: without the lock's ORDER BY, PostgreSQL finds deadlocks here
  // and fails one transaction of each ("deadlock detected").
  await Promise.all(
    Array.from({ length: 40 }, (_, w) => {
      const backend = backends[w % backends.length];
      if (w % 5 === 4) return backend.set(keys[w % keys.length], undefined);
      const mine = w % 2 === 0 ? keys : [...keys].reverse();
      return backend.setMany(new Map(mine.map((key) => [key, { n: w, tags: [`w${w % 3}`] }])));
    }),
  );
  const values = await store.getMany(keys);
  for (const tag of ['w0', 'w1', 'w2']) {
    assert.equal(
      (await byTag.get(tag)).map((hit) => hit.key),
      keys.filter((_, i) => values[i]?.tags?.includes(tag)),
      `index entries for tag ${tag}`,
    );
  }
});

test('keys that PostgreSQL text cannot hold are refused with the store or index named, and change nothing', async () => {
  const { root, store, byTag } = fixture();
  for (const key of ['a\u0000b', 'lone \ud800 surrogate']) {
    const err = await rejection(store.set(key, { name: 'x' }));
    assert.is(err.code, 'INFRA_INVALID_KEY');
    assert.match(
      err.message,
      `Store ${root.value}.items: key ${JSON.stringify(key)} contains U+0000 or an unpaired surrogate`,
    );
  }
  await store.set('k', { name: 'kept', tags: ['ok'] });
  const err = await rejection(store.set('k', { name: 'bad', tags: ['fine', 'nul\u0000'] }));
  assert.is(err.code, 'INFRA_INVALID_INDEX_KEY');
  assert.match(err.message, `Index ${root.value}.items-by-tag: key`);
  const fromModify = await rejection(store.modify('k', () => ({ name: 'bad', tags: ['\udc00'] })));
  assert.is(fromModify.code, 'INFRA_INVALID_INDEX_KEY');
  assert.equal(await store.get('k'), { name: 'kept', tags: ['ok'] });
  assert.equal(await byTag.get('ok'), [{ key: 'k', inlineValue: undefined }]);
  assert.equal(await byTag.get('fine'), []);
});

test("a modify function runs in its caller's context, and may use the store itself and other stores", async () => {
  const root = rootId(`pgtest-${run}-${counter++}`);
  const store = new Store<Item>(root`items`);
  const other = new Store<Item>(root`other`);
  const app = appOf(root);
  const platform = new PostgresStorePlatform({ log: quiet });
  app.enter('runtime', platform);
  closers.push(() => platform.close());
  await store.set('base', { n: 10 });
  const result = await runAs(app, undefined, () =>
    store.modify('sum', async (old) => {
      assert.is(currentContext()?.app, app, 'the app context reaches the function');
      const base = (await store.get('base'))!.n!;
      await other.modify('seen', (o) => ({ n: (o?.n ?? 0) + 1 }));
      await other.set('copy', { n: base });
      return { n: (old?.n ?? 0) + base };
    }),
  );
  assert.equal(result, { n: 10 });
  assert.equal(await other.get('seen'), { n: 1 });
  assert.equal(await other.get('copy'), { n: 10 });
});

test('modify functions that call the store, on more keys at once than the pool has connections, and sets waiting on those keys, all complete', async () => {
  const { store } = fixture();
  await store.set('base', { n: 1 });
  await Promise.all([
    ...Array.from({ length: 30 }, (_, i) =>
      store.modify(`m${i % 15}`, async (old) => {
        const base = (await store.get('base'))!.n!;
        await new Promise((r) => setTimeout(r, 2));
        return { n: (old?.n ?? 0) + base };
      }),
    ),
    ...Array.from({ length: 20 }, (_, i) => store.set(`m${i % 3}`, { n: 100 })),
  ]);
  let total = 0;
  for (let i = 0; i < 15; i++) total += (await store.get(`m${i}`))!.n!;
  // Keys m0..m2 end at 100 plus however many increments followed the last set; the rest at 2.
  assert.ok(total >= 12 * 2 + 3 * 100 && total <= 12 * 2 + 3 * 102, `total ${total}`);
});

test('modify functions that throw, more of them than the pool has connections, leave the store usable', async () => {
  const { store } = fixture();
  await store.set('t', { n: 1 });
  for (let i = 0; i < 25; i++) {
    const err = await rejection(
      store.modify('t', () => {
        throw new Error(`refused ${i}`);
      }),
    );
    assert.is(err.message, `refused ${i}`);
  }
  assert.equal(await store.modify('t', (old) => ({ n: old!.n! + 1 })), { n: 2 });
});

test('a database nobody listens on fails the call with the store named, and logs the outage once', async () => {
  const logged: string[] = [];
  const log: Logger = { info: (m) => logged.push(`info: ${m}`), error: (m) => logged.push(`error: ${m}`) };
  const { root, store } = fixture(
    new PostgresStorePlatform({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, log }),
  );
  for (const call of [store.get('a'), store.set('a', { n: 1 }), store.modify('a', () => ({ n: 1 })), store.has('a')]) {
    const err = await rejection(call);
    assert.is(err.code, 'INFRA_STORE_UNAVAILABLE');
    assert.match(err.message, `Store ${root.value}.items: its PostgreSQL database cannot be reached`);
  }
  assert.equal(logged, [
    `error: Store ${root.value}.items: PostgreSQL cannot be reached; its calls fail until it is back`,
  ]);
});

test('a database error that is not an outage names the store and the call', async () => {
  const { root, store } = fixture(
    new PostgresStorePlatform({ url: url.replace(/\/[^/]*$/, `/no_such_database_${run}`), log: quiet }),
  );
  const err = await rejection(store.get('a'));
  assert.is(err.code, 'INFRA_STORE_FAILED');
  assert.match(
    err.message,
    `Store ${root.value}.items: get() failed in PostgreSQL: database "no_such_database_${run}" does not exist`,
  );
});

test('after close(), calls fail with the store named', async () => {
  const { root, store, platform } = fixture();
  await store.set('a', { n: 1 });
  await platform.close();
  const err = await rejection(store.get('a'));
  assert.is(err.code, 'INFRA_STORE_CLOSED');
  assert.match(err.message, `Store ${root.value}.items`);
});

test.run();
