/**
 * Indexers that may change: a store opened by code whose indexer is new to its data rebuilds the
 * index from the values. The same contract in memory (a backend over an earlier one's data) and
 * on PostgreSQL; then what only PostgreSQL can show: readers of the old and the new code during
 * a build, a process killed mid-build, writes from two processes during a build of 100,000
 * values, and tables made before indexes had fingerprints.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPool, sql } from 'slonik';
import { rootId, Store } from 'infra-generator';
import type { IndexDefinition, StoreBackend } from 'infra-generator/internal/components/store/backend';
import type { Json } from 'infra-generator/internal/core/json';
import { MemoryStoreBackend, MemoryStoreData } from 'infra-generator/internal/components/store/memory';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';
import { IndexBuild } from 'infra-generator/internal/components/store/postgres-index-build';
import { adminUrl as url, dropTables } from '../support/pg-admin.ts';
import { byName, byUpperName, people, refusingBad, type Person } from '../fixtures/index-rebuild/people.ts';

const run = randomBytes(3).toString('hex');
let counter = 0;
const tables = new Set<string>();
const open: StoreBackend[] = [];

interface Harness {
  name: string;
  /** A backend of `store` over what earlier backends of a store of the same ID kept. */
  backend(store: Store<Person>, log?: string[]): StoreBackend;
}

const memoryData = new Map<string, MemoryStoreData>();

const harnesses: Harness[] = [
  {
    name: 'memory',
    backend(store) {
      let data = memoryData.get(store.id.value);
      if (!data) memoryData.set(store.id.value, (data = new MemoryStoreData()));
      return new MemoryStoreBackend(store.indexes, data);
    },
  },
  {
    name: 'PostgreSQL',
    backend(store, log) {
      tables.add(store.id.sqlName);
      for (const index of store.indexes) tables.add(index.id.sqlName);
      const backend = createPostgresStoreBackend(store, url, {
        log: { info: (m) => log?.push(m), error: (m) => log?.push(m) },
      });
      open.push(backend);
      return backend;
    },
  },
];

const freshName = () => `rebuild-${run}-${counter++}`;

/** `n` people: person-00000 … named name-<i % 97>. */
function population(n: number, from = 0): Map<string, Json> {
  const entries = new Map<string, Json>();
  for (let i = from; i < from + n; i++)
    entries.set(`person-${String(i).padStart(6, '0')}`, { name: `name-${i % 97}`, n: i });
  return entries;
}

async function fill(backend: StoreBackend, entries: Map<string, Json>): Promise<void> {
  const all = [...entries];
  for (let i = 0; i < all.length; i += 2_000) await backend.setMany(new Map(all.slice(i, i + 2_000)));
}

/** Every row of `index`, as `indexKey key inline` lines, sorted. */
async function indexRows(backend: StoreBackend, index: IndexDefinition): Promise<string[]> {
  const rows: string[] = [];
  let after: { indexKey: string; key: string } | undefined;
  for (;;) {
    const page = await backend.indexEntries(index, after, 5_000);
    for (const row of page) rows.push(`${row.indexKey} ${row.key} ${JSON.stringify(row.inlineValue)}`);
    if (page.length < 5_000) return rows.sort();
    after = page[page.length - 1];
  }
}

/** What `index`'s indexer yields for every value of the store, as indexRows() lists it. */
async function expectedRows(backend: StoreBackend, index: IndexDefinition): Promise<string[]> {
  const rows: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await backend.entries(after, 5_000);
    for (const [key, value] of page)
      for (const entry of index.indexer(value, key))
        rows.push(`${entry.indexKey} ${key} ${JSON.stringify(entry.inlineValue)}`);
    if (page.length < 5_000) return rows.sort();
    after = page[page.length - 1]![0];
  }
}

async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.is((err as { code?: string }).code, code, String(err));
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

for (const harness of harnesses) {
  const test = suite(`Indexers that change: ${harness.name}`);

  test('an indexer changed between two runs: the index follows the new function, and the old one again after going back', async () => {
    const name = freshName();
    const first = people(name, byName);
    const one = harness.backend(first.store);
    await fill(one, population(1_234));
    assert.equal((await one.indexGet(first.index, 'name-5', false)).map((hit) => hit.key).slice(0, 2), [
      'person-000005',
      'person-000102',
    ]);
    await one.close();

    const second = people(name, byUpperName);
    const two = harness.backend(second.store);
    const hits = await two.indexGet(second.index, 'NAME-5', false);
    assert.is(hits.length, 13);
    assert.equal(hits[1], { key: 'person-000102', inlineValue: 102 });
    assert.equal(await two.indexGet(second.index, 'name-5', false), []);
    assert.equal(await indexRows(two, second.index), await expectedRows(two, second.index));
    // Writes after the build keep following the new function.
    await two.set('person-000005', { name: 'renamed', n: 5 });
    assert.equal(await two.indexGet(second.index, 'RENAMED', false), [{ key: 'person-000005', inlineValue: 5 }]);
    await two.close();

    const third = people(name, byName);
    const three = harness.backend(third.store);
    assert.equal(await three.indexGet(third.index, 'renamed', false), [
      { key: 'person-000005', inlineValue: undefined },
    ]);
    assert.equal(await three.indexGet(third.index, 'RENAMED', false), []);
    assert.equal(await indexRows(three, third.index), await expectedRows(three, third.index));
    await three.close();
  });

  test('the version option: the same indexer with a new version is rebuilt', async () => {
    const name = freshName();
    // An indexer that reads a setting its text does not show: only `version` tells the store it changed.
    let suffix = '-a';
    const indexer = (person: Person) => [{ indexKey: person.name + suffix }];
    const first = people(name, indexer, { version: 1 });
    const one = harness.backend(first.store);
    await fill(one, population(10));
    assert.is((await one.indexGet(first.index, 'name-3-a', false)).length, 1);
    await one.close();

    suffix = '-b';
    const same = people(name, indexer, { version: 1 });
    const two = harness.backend(same.store);
    assert.is((await two.indexGet(same.index, 'name-3-b', false)).length, 0, 'same version: not rebuilt');
    await two.close();

    const bumped = people(name, indexer, { version: 2 });
    const three = harness.backend(bumped.store);
    assert.is((await three.indexGet(bumped.index, 'name-3-b', false)).length, 1, 'new version: rebuilt');
    assert.is((await three.indexGet(bumped.index, 'name-3-a', false)).length, 0);
    await three.close();
  });

  test('a new indexer that throws for a stored value: its reads fail naming the key, writes go on', async () => {
    const name = freshName();
    const first = people(name, byName);
    const one = harness.backend(first.store);
    await fill(one, population(20));
    await one.set('the-bad-one', { name: 'bad', n: -1 });
    await one.close();

    const second = people(name, refusingBad);
    const log: string[] = [];
    const two = harness.backend(second.store, log);
    await rejects(
      two.indexGet(second.index, 'name-1', false),
      'INFRA_INDEX_REBUILD_FAILED',
      /Index rebuild-.*people-by-name cannot be rebuilt: its indexer threw for the stored value of key "the-bad-one" \(no bad names\)\. Fix the indexer/,
    );
    await two.set('person-000001', { name: 'still-writable', n: 1 });
    assert.equal(await two.get('person-000001'), { name: 'still-writable', n: 1 });
    await two.close();
    if (harness.name === 'PostgreSQL')
      assert.ok(log.some((line) => /threw for the stored value of key "the-bad-one"/.test(line)));

    // The next start tries again, and fails again while the value is there.
    const third = people(name, refusingBad);
    const three = harness.backend(third.store);
    await rejects(three.indexGet(third.index, 'name-1', false), 'INFRA_INDEX_REBUILD_FAILED', /"the-bad-one"/);
    await three.set('the-bad-one', undefined);
    assert.is(await three.get('the-bad-one'), undefined);
    await three.close();
    // Without it, the build completes.
    const fourth = people(name, refusingBad);
    const four = harness.backend(fourth.store);
    assert.equal(await four.indexGet(fourth.index, 'still-writable', false), [
      { key: 'person-000001', inlineValue: undefined },
    ]);
    assert.equal(await indexRows(four, fourth.index), await expectedRows(four, fourth.index));
    await four.close();
  });

  test('an index removed from the code and added back later is built afresh', async () => {
    const name = freshName();
    const first = people(name, byName);
    const one = harness.backend(first.store);
    await fill(one, population(30));
    await one.close();
    // The same store without the index: its writes do not touch the index.
    const bare = new Store<Person>(rootId(name)`people`);
    const two = harness.backend(bare);
    await two.set('person-000001', { name: 'renamed', n: 1 });
    await two.set('person-000002', undefined);
    await two.close();
    const back = people(name, byName);
    const three = harness.backend(back.store);
    assert.equal(await three.indexGet(back.index, 'renamed', false), [
      { key: 'person-000001', inlineValue: undefined },
    ]);
    assert.equal(await three.indexGet(back.index, 'name-2', false), []);
    assert.equal(await indexRows(three, back.index), await expectedRows(three, back.index));
    await three.close();
  });

  test.after(async () => {
    await Promise.all(open.splice(0).map((backend) => backend.close()));
  });
  test.run();
}

// ---------------------------------------------------------------------------------------------

const test = suite('Indexers that change: PostgreSQL only');
const postgres = harnesses[1]!;

/** The record of the index `people-by-name` of app `name`. */
async function recordOf(name: string): Promise<{ fingerprint: string; built: boolean; values_done: number }[]> {
  const pool = await createPool(url);
  try {
    const { store } = people(name, byName);
    const table = `${store.id.sqlName}:indexes`;
    return (await pool.any(
      sql.unsafe`SELECT fingerprint, built, values_done::int AS values_done FROM ${sql.identifier([table])} ORDER BY started_at`,
    )) as { fingerprint: string; built: boolean; values_done: number }[];
  } finally {
    await pool.end();
  }
}

async function adminQuery(query: ReturnType<typeof sql.unsafe>): Promise<readonly unknown[]> {
  const pool = await createPool(url);
  try {
    return await pool.anyFirst(query);
  } finally {
    await pool.end();
  }
}

test('the same indexer in a new process is not rebuilt; an index added to a store with values is built from them', async () => {
  const name = freshName();
  const first = people(name, byName);
  const one = postgres.backend(first.store);
  await fill(one, population(700));
  await one.close();

  const log: string[] = [];
  const again = people(name, byName);
  const two = postgres.backend(again.store, log);
  assert.is((await two.indexGet(again.index, 'name-1', false)).length, 8);
  assert.equal(log, [], 'nothing rebuilt');
  await two.close();

  // The store `people` of an app that had no index yet, then the same store with one.
  const bareName = freshName();
  const bare = new Store<Person>(rootId(bareName)`people`);
  const three = postgres.backend(bare);
  await fill(three, population(600));
  await three.close();
  const { store: added, index: byNameAdded } = people(bareName, byName);
  const addedLog: string[] = [];
  const four = postgres.backend(added, addedLog);
  assert.is((await four.indexGet(byNameAdded, 'name-1', false)).length, 7);
  assert.equal(await indexRows(four, byNameAdded), await expectedRows(four, byNameAdded));
  assert.ok(
    addedLog.some((line) => /is being built from the store's values.*\(600 values\)/.test(line)),
    addedLog.join('\n'),
  );
  assert.ok(
    addedLog.some((line) => /is built: 600 of 600 values, 100 %/.test(line)),
    addedLog.join('\n'),
  );
  await four.close();
});

test('a read that waits for a build longer than its deadline fails with INFRA_INDEX_REBUILDING, saying how far the build is', async () => {
  const { store, index } = people(freshName(), byName);
  // A build that never gets a batch done (never started): what a read sees of a long one.
  const build = new IndexBuild({
    pool: undefined as never,
    tables: undefined as never,
    index,
    resolved: undefined as never,
    storeId: store.id.value,
    log: undefined,
  });
  await rejects(
    build.whenBuilt(50),
    'INFRA_INDEX_REBUILDING',
    /^Index rebuild-.*\.people-by-name is being rebuilt, as its indexer changed \(0 values so far\); reads of it wait for the new index and this one gave up after 0\.05 s\. Retry shortly$/,
  );
  build.stop();
  await rejects(build.whenBuilt(50), 'INFRA_STORE_CLOSED', /its connections were closed/);
});

test('an index table made before indexes had fingerprints is rebuilt once: whose entries it holds is not known', async () => {
  const name = freshName();
  const { store, index } = people(name, byName);
  tables.add(store.id.sqlName);
  tables.add(index.id.sqlName);
  const main = sql.identifier([store.id.sqlName]);
  const table = sql.identifier([index.id.sqlName]);
  // As the previous version made them: no record of indexes.
  await adminQuery(sql.unsafe`CREATE TABLE ${main} (key text COLLATE "C" PRIMARY KEY, value json)`);
  await adminQuery(
    sql.unsafe`CREATE TABLE ${table} (index_key text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, inline_value json, PRIMARY KEY (index_key, key))`,
  );
  await adminQuery(sql.unsafe`INSERT INTO ${main} VALUES ('ada', '{"name":"Ada","n":1}')`);
  // An entry the current indexer would not yield (an earlier indexer's, say).
  await adminQuery(sql.unsafe`INSERT INTO ${table} VALUES ('Ada', 'ada', NULL), ('stale', 'ada', NULL)`);
  const log: string[] = [];
  const backend = postgres.backend(store, log);
  assert.equal(await backend.indexGet(index, 'Ada', true), [
    { key: 'ada', inlineValue: undefined, value: { name: 'Ada', n: 1 } },
  ]);
  assert.equal(await backend.indexGet(index, 'stale', false), []);
  assert.ok(
    log.some((line) => /is built: 1 of 1 values/.test(line)),
    log.join('\n'),
  );
  assert.is((await recordOf(name)).length, 1);
  assert.equal(
    await adminQuery(sql.unsafe`SELECT to_regclass(${`"${index.id.sqlName}"`})::text`),
    [null],
    'the old table is gone',
  );
  await backend.close();
  // The next start finds the new table whole.
  const again = people(name, byName);
  const quiet: string[] = [];
  const next = postgres.backend(again.store, quiet);
  assert.is((await next.indexGet(again.index, 'Ada', false)).length, 1);
  assert.equal(quiet, []);
  await next.close();
});

test("during a build, the old code's readers see the old index whole and the new code's wait for the new one whole", async () => {
  const name = freshName();
  const first = people(name, byName);
  const old = postgres.backend(first.store);
  await fill(old, population(20_000));
  const oldExpected = await expectedRows(old, first.index);

  const second = people(name, byUpperName);
  const log: string[] = [];
  const fresh = postgres.backend(second.store, log);
  await fresh.get('opening');
  assert.is((await recordOf(name)).at(-1)!.built, false, 'the build is under way');
  // The old code reads its own table, whole, while the new one is built.
  assert.equal(await indexRows(old, first.index), oldExpected);
  const hits = await fresh.indexGet(second.index, 'NAME-0', false);
  assert.is(hits.length, Math.ceil(20_000 / 97));
  assert.ok(
    log.some((line) => /is built: 20,000 of 20,000 values/.test(line)),
    log.join('\n'),
  );
  assert.equal(await indexRows(fresh, second.index), await expectedRows(fresh, second.index));
  // Once built, the new table replaced the old.
  assert.equal(
    (await recordOf(name)).map((r) => r.built),
    [true],
  );
  await old.close();
  await fresh.close();
});

test('a process of the earlier code writing during a build (a rolling update): its writes reach the new index, and fail once the old table is gone', async () => {
  const name = freshName();
  const first = people(name, byName);
  const old = postgres.backend(first.store);
  // Behind the scan once it is paused: every key from "a" sorts before "person-".
  await fill(old, population(20_000));

  const second = people(name, byUpperName);
  const fresh = postgres.backend(second.store);
  const pool = await createPool(url);
  try {
    await fresh.open();
    const record = sql.identifier([`${first.store.id.sqlName}:indexes`]);
    const deadline = Date.now() + 30_000;
    while (((await recordOf(name)).find((r) => !r.built)?.values_done ?? 0) < 2_000) {
      if (Date.now() > deadline) assert.unreachable('the build did not start');
    }
    await pool.transaction(async (tx) => {
      // Holds the build between two batches, with some keys behind it.
      const paused = await tx.any(sql.unsafe`SELECT built FROM ${record} WHERE NOT built FOR UPDATE`);
      assert.is(paused.length, 1, 'the build is under way');
      await old.set('person-000001', { name: 'renamed-by-old', n: 1 });
      await old.set('person-000002', undefined);
      await old.modify('person-000003', async () => ({ name: 'modified-by-old', n: 3 }));
      await old.setMany(new Map([['added-by-old', { name: 'added', n: 0 }]]));
    });
    assert.equal(await fresh.indexGet(second.index, 'RENAMED-BY-OLD', false), [
      { key: 'person-000001', inlineValue: 1 },
    ]);
    assert.equal(await fresh.indexGet(second.index, 'MODIFIED-BY-OLD', false), [
      { key: 'person-000003', inlineValue: 3 },
    ]);
    assert.equal(await fresh.indexGet(second.index, 'ADDED', false), [{ key: 'added-by-old', inlineValue: 0 }]);
    assert.equal(await indexRows(fresh, second.index), await expectedRows(fresh, second.index));
    // The old code's table is gone: its index writes fail, saying so, and write nothing.
    await rejects(old.set('person-000004', { name: 'too-late', n: 4 }), 'INFRA_STORE_FAILED', /does not exist/);
    assert.equal(await fresh.get('person-000004'), { name: 'name-4', n: 4 });
    // No trigger, log or function of the build is left.
    const leftovers = await pool.anyFirst(sql.unsafe`
      SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ${first.store.id.sqlName}::regclass
      UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE ${`${first.index.id.sqlName}%`}
      UNION ALL SELECT tablename FROM pg_tables WHERE tablename LIKE ${`${first.index.id.sqlName}%changes`}`);
    assert.equal(leftovers, []);
  } finally {
    await pool.end();
    await old.close();
    await fresh.close();
  }
});

test('a first value written by the earlier code while the new code opens the empty store reaches the new index', async () => {
  const name = freshName();
  const first = people(name, byName);
  const one = postgres.backend(first.store);
  await one.open();
  const pool = await createPool(url);
  try {
    // The earlier code's set() of a first value, caught between its two statements.
    let commit: () => void = () => {};
    const committed = new Promise<void>((resolve) => (commit = resolve));
    const writing = pool.transaction(async (tx) => {
      await tx.query(
        sql.unsafe`INSERT INTO ${sql.identifier([first.store.id.sqlName])} VALUES ('k1', '{"name":"alice","n":1}')`,
      );
      await tx.query(sql.unsafe`INSERT INTO ${sql.identifier([first.index.id.sqlName])} VALUES ('alice', 'k1', NULL)`);
      await committed;
    });
    const second = people(name, byUpperName);
    const two = postgres.backend(second.store);
    const opening = two.open();
    await new Promise((resolve) => setTimeout(resolve, 300));
    commit();
    await writing;
    await opening;
    assert.equal(await two.indexGet(second.index, 'ALICE', false), [{ key: 'k1', inlineValue: 1 }]);
    await two.close();
  } finally {
    await pool.end();
    await one.close();
  }
});

test("a long transaction on the store's table when the build would end: the last step tries again until it is over", async () => {
  const name = freshName();
  const first = people(name, byName);
  const one = postgres.backend(first.store);
  await fill(one, population(20_000));
  await one.close();

  const second = people(name, byUpperName);
  const log: string[] = [];
  const two = postgres.backend(second.store, log);
  const pool = await createPool(url);
  try {
    await two.open();
    let end: () => void = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    // What any write holds on the table (a long modify(), a hand's transaction), without a row lock.
    let held: () => void = () => {};
    const holding = new Promise<void>((resolve) => (held = resolve));
    const long = pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`LOCK TABLE ${sql.identifier([first.store.id.sqlName])} IN ROW EXCLUSIVE MODE`);
      held();
      await ended;
    });
    await holding;
    // Until the last step has given up on its lock more than once.
    const deadline = Date.now() + 30_000;
    while (!log.some((line) => line.includes('waited too long for a lock'))) {
      if (Date.now() > deadline) assert.unreachable(`the last step never waited:\n${log.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.is((await recordOf(name)).find((r) => !r.built)?.values_done, 20_000, 'every value scanned');
    // A write meanwhile is not refused.
    await two.set('person-000001', { name: 'meanwhile', n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    end();
    await long;
    assert.equal(await two.indexGet(second.index, 'MEANWHILE', false), [{ key: 'person-000001', inlineValue: 1 }]);
    assert.equal(await indexRows(two, second.index), await expectedRows(two, second.index));
    assert.equal(
      (await recordOf(name)).map((r) => r.built),
      [true],
    );
  } finally {
    await pool.end();
    await two.close();
  }
});

test('a process killed in the middle of a build: the next start goes on from where it stopped', async () => {
  const name = freshName();
  const first = people(name, byName);
  const one = postgres.backend(first.store);
  await fill(one, population(30_000));
  await one.close();

  const child = spawn(
    process.execPath,
    ['--conditions=source', fileURLToPath(new URL('../fixtures/index-rebuild/open.ts', import.meta.url)), url, name],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Killed once some batches are in, none of the rest.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const record = (await recordOf(name).catch(() => [])).find((r) => !r.built);
    if (record && record.values_done >= 1_000) break;
    if (Date.now() > deadline) assert.unreachable(`the child did not start the build:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.kill('SIGKILL');
  await exited;
  const left = (await recordOf(name)).find((r) => r.fingerprint !== undefined && !r.built);
  assert.ok(left, `the build was still under way when the process was killed:\n${output}`);
  assert.ok(left.values_done < 30_000);

  const second = people(name, byUpperName);
  const log: string[] = [];
  const two = postgres.backend(second.store, log);
  assert.is((await two.indexGet(second.index, 'NAME-0', false)).length, Math.ceil(30_000 / 97));
  assert.equal(await indexRows(two, second.index), await expectedRows(two, second.index));
  const record = await recordOf(name);
  assert.is(record.length, 1);
  // Each value was indexed once: the second process went on from the first one's last batch.
  assert.is(record[0]!.values_done, 30_000);
  await two.close();
});

test('1,000 writes from two processes during the build of 100,000 values: the index matches the values after it', async () => {
  const name = freshName();
  const first = people(name, byName);
  const one = postgres.backend(first.store);
  await one.get('opening');
  // 100,000 values, written fast (the old index is not what this test reads).
  const main = sql.identifier([first.store.id.sqlName]);
  await adminQuery(sql.unsafe`
    INSERT INTO ${main} (key, value)
    SELECT 'person-' || lpad(i::text, 6, '0'), json_build_object('name', 'name-' || (i % 97), 'n', i)
    FROM generate_series(0, 99999) AS i`);
  await one.close();

  const processes = [people(name, byUpperName), people(name, byUpperName)];
  const log: string[] = [];
  const backends = processes.map(({ store }) => postgres.backend(store, log));
  const index = processes[0]!.index;
  await Promise.all(backends.map((backend) => backend.get('opening')));
  let builtWhenHalfDone: boolean | undefined;
  let done = 0;
  const writes = Array.from({ length: 1_000 }, async (_, i) => {
    const backend = backends[i % 2]!;
    // Keys all over the range, ahead of the build and behind it; new keys too.
    const key = `person-${String((i * 7_919) % 110_000).padStart(6, '0')}`;
    switch (i % 5) {
      case 0:
        await backend.set(key, { name: `written-${i % 13}`, n: i });
        break;
      case 1:
        await backend.set(key, undefined);
        break;
      case 2:
        await backend.modify(key, async (old) => ({
          name: `modified-${i % 7}`,
          n: ((old as unknown as Person | undefined)?.n ?? 0) + 1,
        }));
        break;
      case 3:
        await backend.setMany(
          new Map([
            [key, { name: `many-${i % 11}`, n: i }],
            [`extra-${i}`, { name: 'extra', n: i }],
          ]),
        );
        break;
      default:
        await backend.modify(key, async () => undefined);
    }
    if (++done === 500) builtWhenHalfDone = (await recordOf(name)).every((r) => r.built);
  });
  await Promise.all(writes);
  assert.is(builtWhenHalfDone, false, 'the writes ran during the build');
  // Wait for the build (a read waits for it), then compare the whole index with the values.
  for (;;) {
    try {
      await backends[0]!.indexGet(index, 'EXTRA', false);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'INFRA_INDEX_REBUILDING') throw err;
    }
  }
  assert.equal(await indexRows(backends[1]!, index), await expectedRows(backends[1]!, index));
  assert.is((await backends[1]!.indexGet(index, 'EXTRA', false)).length, 200);
  await Promise.all(backends.map((backend) => backend.close()));
});

test.after(async () => {
  await Promise.all(open.splice(0).map((backend) => backend.close()));
  await dropTables(tables, url);
});

test.run();
