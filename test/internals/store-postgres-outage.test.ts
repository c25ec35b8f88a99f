/**
 * A real outage: a throwaway PostgreSQL cluster of this test's own (never the machine's main
 * server) crashes under load (`pg_ctl stop -m immediate`: no shutdown checkpoint, so what
 * survives is what the WAL made durable) and starts again. Every write the store acknowledged
 * must be there afterwards; while the database is down every call fails fast with an error
 * naming the store; once it is back the same store object works again.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rootId, appOf, Store } from 'infra-generator';
import { StorePlatform } from '../support/store-platform.ts';
import type { Logger } from 'infra-generator/internal/core/logger';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';
import { ThrowawayCluster, settlesWithin } from '../support/throwaway-cluster.ts';

/** A deployed-mode platform reduced to what a Store needs. */
class PostgresStorePlatform extends StorePlatform {
  constructor(url: () => string, log: Logger) {
    super((store) => createPostgresStoreBackend(store, url(), { log }));
  }
}

async function rejection(promise: Promise<unknown>, what: string): Promise<Error & { code?: string }> {
  try {
    await settlesWithin(promise, 20, what);
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.unreachable(`${what}: expected a rejection while the database is down`);
  throw new Error('unreachable');
}

interface Order {
  writer: number;
  i: number;
  status: 'odd' | 'even';
}

interface Counter {
  n: number;
}

const test = suite('Store through a PostgreSQL outage');

let cluster: ThrowawayCluster | undefined;
const logged: string[] = [];
const log: Logger = { info: (m) => logged.push(`info: ${m}`), error: (m) => logged.push(`error: ${m}`) };
const platform = new PostgresStorePlatform(() => cluster!.url, log);

const root = rootId('outage');
const orders = new Store<Order>(root`orders`);
const byStatus = new orders.Index(root`orders-by-status`, (order) => [
  { indexKey: order.status, inlineValue: order.i },
]);
const counters = new Store<Counter>(root`counters`);
/** First used while the database is down: opening its pool and tables must be retried later. */
const late = new Store<Counter>(root`late`);

/** What the store acknowledged: each key's last acknowledged value. */
const acknowledged = new Map<string, Order>();
/** Writes that failed under load: they may or may not have committed before the crash. */
const unacknowledged = new Map<string, Order>();
let acknowledgedIncrements = 0;
let attemptedIncrements = 0;
const failuresUnderLoad: (Error & { code?: string })[] = [];

const destroyOnExit = () => cluster?.destroySync();

test.before(async () => {
  process.once('exit', destroyOnExit);
  cluster = await ThrowawayCluster.create();
  await cluster.start();
  appOf(root).enter('runtime', platform);
});

test.after(async () => {
  await platform.close();
  await cluster?.destroy();
  process.off('exit', destroyOnExit);
});

test('writes under load until the database crashes; every failure names the store and says it is unreachable', async () => {
  for (let i = 0; i < 20; i++) {
    const order: Order = { writer: -1, i, status: i % 2 ? 'odd' : 'even' };
    await orders.set(`before-${i}`, order);
    acknowledged.set(`before-${i}`, order);
  }
  // Each writer runs until its first failure, which the crash below brings.
  const writers = Array.from({ length: 6 }, (_, writer) =>
    (async () => {
      for (let i = 0; ; i++) {
        let attempt: [string, Order] | undefined;
        try {
          if (i % 3 === 2) {
            attemptedIncrements++;
            await counters.modify('orders', (old) => ({ n: (old?.n ?? 0) + 1 }));
            acknowledgedIncrements++;
          } else {
            const key = `w${writer}-${i % 40}`;
            const order: Order = { writer, i, status: i % 2 ? 'odd' : 'even' };
            attempt = [key, order];
            await orders.set(key, order);
            acknowledged.set(key, order);
          }
        } catch (err) {
          if (attempt) unacknowledged.set(...attempt);
          failuresUnderLoad.push(err as Error);
          return;
        }
      }
    })(),
  );
  while (acknowledged.size < 120 && failuresUnderLoad.length === 0) await new Promise((r) => setTimeout(r, 10));
  await cluster!.crash();
  await settlesWithin(Promise.all(writers), 30, 'the writers');
  assert.is(failuresUnderLoad.length, 6);
  for (const err of failuresUnderLoad) {
    assert.is(err.code, 'INFRA_STORE_UNAVAILABLE', err.message);
    assert.match(err.message, /^Store outage\.(orders|counters): its PostgreSQL database cannot be reached/);
  }
});

test('while the database is down, every call fails fast with the store named', async () => {
  const calls: [string, () => Promise<unknown>][] = [
    ['get', () => orders.get('before-1')],
    ['has', () => orders.has('before-1')],
    ['set', () => orders.set('during', { writer: -2, i: 0, status: 'even' })],
    ['del', () => orders.del('before-2')],
    ['modify', () => counters.modify('orders', (old) => ({ n: (old?.n ?? 0) + 1000 }))],
    [
      'allKeys',
      async () => {
        for await (const key of orders.allKeys()) void key;
      },
    ],
    ['index get', () => byStatus.get('odd', { retrieveValues: true })],
    ['first use of another store', () => late.set('x', { n: 1 })],
  ];
  for (const [what, call] of calls) {
    const err = await rejection(call(), what);
    assert.is(err.code, 'INFRA_STORE_UNAVAILABLE', `${what}: ${err.message}`);
    assert.match(
      err.message,
      /^Store outage\.(orders|counters|late): its PostgreSQL database cannot be reached \(.+\)\. Check that the database is running/,
    );
  }
});

test('after the database starts again, every acknowledged write is there and the same stores work again', async () => {
  await cluster!.start();
  for (const [key, order] of acknowledged) {
    const value = await orders.get(key);
    // A write cut off by the crash may have committed before its answer was lost.
    if (unacknowledged.has(key) && JSON.stringify(value) === JSON.stringify(unacknowledged.get(key))) continue;
    assert.equal(value, order, `acknowledged value of ${key}`);
  }
  assert.is(await orders.has('during'), false, 'a write refused during the outage was not applied later');
  const { n } = (await counters.get('orders'))!;
  assert.ok(
    n >= acknowledgedIncrements && n <= attemptedIncrements,
    `counter ${n} counts every acknowledged increment (${acknowledgedIncrements}) and no more than were tried (${attemptedIncrements})`,
  );
  // The index matches the main table after the crash recovery.
  const byStatusExpected = { odd: [] as string[], even: [] as string[] };
  for await (const key of orders.allKeys({ batchSize: 50 }))
    byStatusExpected[(await orders.get(key))!.status].push(key);
  for (const status of ['odd', 'even'] as const) {
    assert.equal(
      (await byStatus.get(status)).map((hit) => hit.key),
      byStatusExpected[status],
      `index entries for ${status}`,
    );
  }
  // New calls work, on the store objects (and pools) that went through the outage.
  await orders.set('after', { writer: -3, i: 1, status: 'odd' });
  assert.equal(
    (await byStatus.get('odd', { retrieveValues: true })).find((hit) => hit.key === 'after'),
    { key: 'after', inlineValue: 1, value: { writer: -3, i: 1, status: 'odd' } },
  );
  assert.equal(await counters.modify('orders', (old) => ({ n: old!.n + 1 })), { n: n + 1 });
  await late.set('x', { n: 1 });
  assert.equal(await late.get('x'), { n: 1 });
  // Each store told the log once that it lost the database and once that it is back.
  for (const store of ['orders', 'counters', 'late']) {
    assert.equal(
      logged.filter((line) => line.includes(`Store outage.${store}:`)),
      [
        `error: Store outage.${store}: PostgreSQL cannot be reached; its calls fail until it is back`,
        `info: Store outage.${store}: PostgreSQL is reachable again`,
      ],
    );
  }
});

test.run();
