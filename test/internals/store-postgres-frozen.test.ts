/**
 * A PostgreSQL that hangs instead of refusing: a throwaway cluster of this test's own is frozen
 * (SIGSTOP to the postmaster and every backend) while the store holds open pool connections,
 * so sockets stay open and nothing answers. Every call must still fail within 10 s with the
 * store named, the stuck connections must be thrown away rather than returned to the pool,
 * and once the cluster runs again (SIGCONT) the same store must serve again within seconds.
 * Also: a modify() whose function runs past the limit fails with the store and key named.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootId, appOf, Store } from 'infra-generator';
import { StorePlatform } from '../support/store-platform.ts';
import type { Logger } from 'infra-generator/internal/core/logger';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';
import { STORE_POOL } from 'infra-generator/internal/components/connection-limits';
import { ThrowawayCluster } from '../support/throwaway-cluster.ts';

const POOL_SIZE = STORE_POOL.default;

interface Item {
  n: number;
  tags?: string[];
}

const test = suite('Store on a PostgreSQL that hangs');

let cluster: ThrowawayCluster | undefined;
/** The processes sent SIGSTOP, so that every exit path can send them SIGCONT. */
let frozen: number[] = [];
const logged: string[] = [];
const log: Logger = { info: (m) => logged.push(`info: ${m}`), error: (m) => logged.push(`error: ${m}`) };
const platform = new StorePlatform((store) => createPostgresStoreBackend(store, cluster!.url, { log }));

const root = rootId('frozen');
const items = new Store<Item>(root`items`);
const byTag = new items.Index(root`items-by-tag`, (item) => (item.tags ?? []).map((tag) => ({ indexKey: tag })));

/** The postmaster (from postmaster.pid) and all its children: backends and auxiliary processes. */
function clusterProcesses(): number[] {
  const postmaster = Number(readFileSync(join(cluster!.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when there are no children.
  }
  return [postmaster, ...children];
}

/** The server processes of the client connections other than this query's own: the store's pool. */
async function poolSessions(): Promise<number[]> {
  const client = new pg.Client({ connectionString: cluster!.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

function thaw(): void {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
  }
  frozen = [];
}

/** Never leave a stopped cluster behind, whatever ends this process. */
const onExit = () => {
  thaw();
  cluster?.destroySync();
};

/** The error `promise` rejects with, which must come within `seconds`. */
async function rejectsWithin(
  promise: Promise<unknown>,
  seconds: number,
  what: string,
): Promise<Error & { code?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      () => ({ resolved: true as const }),
      (err: unknown) => ({ resolved: false as const, err: err as Error & { code?: string } }),
    ),
    new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), seconds * 1000))),
  ]).finally(() => clearTimeout(timer));
  if (outcome === 'hung') throw new Error(`${what} did not fail within ${seconds} s`);
  if (outcome.resolved) throw new Error(`${what} succeeded, but it must fail`);
  return outcome.err;
}

test.before(async () => {
  process.once('exit', onExit);
  cluster = await ThrowawayCluster.create();
  await cluster.start();
  appOf(root).enter('runtime', platform);
});

test.after(async () => {
  thaw();
  await platform.close();
  await cluster?.destroy();
  process.off('exit', onExit);
});

test('while the database is frozen every call fails within 10 s with the store named; after it thaws, the same store serves again', async () => {
  // Open several pool connections first, so that the calls below meet connections that were
  // fine when they went idle.
  await items.set('a', { n: 1, tags: ['t'] });
  await Promise.all(Array.from({ length: POOL_SIZE }, (_, i) => items.modify(`warm-${i}`, () => ({ n: i }))));
  const before = await poolSessions();
  assert.ok(before.length > 1, `the pool has connections open: ${before.length}`);
  try {
    frozen = clusterProcesses();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    const calls: [string, () => Promise<unknown>][] = [
      // More calls than the pool has connections: those that wait for one must fail in time too.
      ...Array.from({ length: POOL_SIZE + 2 }, (_, i): [string, () => Promise<unknown>] => [
        `get #${i}`,
        () => items.get('a'),
      ]),
      ['has', () => items.has('a')],
      ['set', () => items.set('b', { n: 2 })],
      ['set with an index', () => items.set('a', { n: 3, tags: ['u'] })],
      ['del', () => items.del('warm-1')],
      ['modify', () => items.modify('c', (old) => ({ n: (old?.n ?? 0) + 1 }))],
      ['index get', () => byTag.get('t')],
      [
        'allKeys',
        async () => {
          for await (const key of items.allKeys()) void key;
        },
      ],
    ];
    const errors = await Promise.all(calls.map(([what, call]) => rejectsWithin(call(), 10, what)));
    errors.forEach((err, i) => {
      assert.is(err.code, 'INFRA_STORE_UNAVAILABLE', `${calls[i][0]}: ${err.message}`);
      assert.match(err.message, /^Store frozen\.items: its PostgreSQL database cannot be reached \(.+\)/);
    });
    // Calls with invalid keys never reach the database, so they fail at once even now.
    for (const key of [undefined, 42, '', 'a\u0000b', '\ud800', 'k'.repeat(1025)] as string[]) {
      const code = key?.length === 1025 ? 'INFRA_KEY_TOO_LONG' : 'INFRA_INVALID_KEY';
      for (const [what, call] of [
        ['get', () => items.get(key)],
        ['has', () => items.has(key)],
        ['set', () => items.set(key, { n: 1 })],
        ['del', () => items.del(key)],
        ['modify', () => items.modify(key, () => ({ n: 1 }))],
      ] as const) {
        const err = await rejectsWithin(call(), 1, `${what}(${JSON.stringify(key)})`);
        assert.is(err.code, code, err.message);
      }
      if (typeof key === 'string' && key !== '') {
        const err = await rejectsWithin(byTag.get(key), 1, `index get(${JSON.stringify(key)})`);
        assert.is(err.code, code === 'INFRA_INVALID_KEY' ? 'INFRA_INVALID_INDEX_KEY' : code, err.message);
      }
    }
  } finally {
    thaw();
  }
  // Back within seconds, on the store (and pool) that went through the freeze.
  let back = false;
  for (let tries = 0; tries < 50 && !back; tries++) {
    back = await items.get('a').then(
      () => true,
      () => false,
    );
    if (!back) await sleep(100);
  }
  assert.ok(back, 'a call succeeds again within seconds of the database answering');
  // The stuck connections were thrown away, not returned: three times as many calls as the
  // pool has connections all succeed, modify transactions included.
  await Promise.all(
    Array.from({ length: 3 * POOL_SIZE }, (_, i) =>
      i % 3 === 0
        ? items.modify('after', (old) => ({ n: (old?.n ?? 0) + 1 }))
        : i % 3 === 1
          ? items.set(`after-${i}`, { n: i, tags: ['after'] })
          : items.get('a'),
    ),
  );
  assert.equal(await items.get('after'), { n: POOL_SIZE });
  // Every connection the pool had was stuck in a call, and was destroyed rather than reused.
  // (Their server processes end once they read the goodbye the pool sent them while frozen. Look
  // for under 2 s: a connection returned to the pool would be closed after 5 s idle.)
  let kept: number[] = [];
  for (let tries = 0; tries < 20; tries++) {
    kept = (await poolSessions()).filter((pid) => before.includes(pid));
    if (kept.length === 0) break;
    await sleep(100);
  }
  assert.equal(kept, [], 'no connection that was stuck serves again');
  assert.is((await byTag.get('after')).length, POOL_SIZE);
  assert.equal(
    logged.filter((line) => line.startsWith('error: ')),
    ['error: Store frozen.items: PostgreSQL cannot be reached; its calls fail until it is back'],
  );
  assert.ok(logged.includes('info: Store frozen.items: PostgreSQL is reachable again'), logged.join('\n'));
});

test("modify() functions running past the limit fail as the app's fault, not an outage, and write nothing", async () => {
  await items.set('slow-0', { n: 1 });
  const errorsBefore = logged.filter((line) => line.startsWith('error: ')).length;
  // More slow functions than modify() may run at once (POOL_SIZE - 1): the others wait for a slot.
  const calls = Array.from({ length: POOL_SIZE + 2 }, (_, i) =>
    items.modify(`slow-${i}`, async () => {
      await sleep(8_000);
      return { n: 99 };
    }),
  );
  const failures = await Promise.all(calls.map((call, i) => rejectsWithin(call, 10, `slow modify() ${i}`)));
  const timedOut = failures.filter((err) => err.code === 'INFRA_MODIFY_TIMEOUT');
  const waited = failures.filter((err) => err.code === 'INFRA_STORE_UNAVAILABLE');
  assert.is(timedOut.length, POOL_SIZE - 1, failures.map((e) => e.message).join('\n'));
  assert.is(waited.length, 3, failures.map((e) => e.message).join('\n'));
  assert.match(
    timedOut[0].message,
    /^Store frozen\.items: the function given to modify\("slow-\d+"\) did not return within 6 s/,
  );
  for (const err of waited)
    assert.match(err.message, "modify() waited 6 s for one of the store's connections, all in use (by slow modify()");
  assert.is(
    logged.filter((line) => line.startsWith('error: ')).length,
    errorsBefore,
    'a slow function is no database outage: nothing logged as one',
  );
  // Once every function has returned its { n: 99 }, nothing of it was written.
  await sleep(3_000);
  assert.equal(await items.get('slow-0'), { n: 1 });
  for (let i = 1; i < calls.length; i++) assert.is(await items.get(`slow-${i}`), undefined);
  assert.equal(await items.modify('slow-0', (old) => ({ n: old!.n + 1 })), { n: 2 });
});

test.run();
