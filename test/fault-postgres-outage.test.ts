/**
 * A PostgreSQL outage seen from the API: the fault app's API persona runs as its own process
 * with its Store on a throwaway cluster, clients write through HTTP, and the cluster crashes
 * under that load (`pg_ctl stop -m immediate`) and starts again. While it is down every call
 * fails fast with a 5xx whose body names no internal detail, the server keeps answering (its
 * health check, and 4xx for bad calls); afterwards every acknowledged write is there, and the
 * same process serves again without a restart. (test/internals/store-postgres-outage.test.ts does the
 * same below the API, on the Store itself.)
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './support/free-port.ts';
import { ThrowawayCluster, settlesWithin } from './support/throwaway-cluster.ts';
import { faultIds, startFaultApi, type FaultApi } from './support/fault-app.ts';

const test = suite('API through a PostgreSQL outage');
const WRITERS = 8;

let cluster: ThrowawayCluster | undefined;
let api: FaultApi | undefined;
const destroyOnExit = () => cluster?.destroySync();

/** key → the last n acknowledged with a 200. */
const acknowledged = new Map<string, number>();
/** key → n of writes that got no 200 (cut off by the crash: may or may not have committed). */
const unacknowledged = new Map<string, number>();
/** Keys first written after the crash was complete: none of them may ever appear. */
const duringOutage = new Set<string>();

/** A 503 from the outage: `{ error, status }`, with no detail of the database or the code. */
function assertCleanFailure(answer: { status: number; text: string; body: any }, what: string) {
  assert.is(answer.status, 503, `${what}: status ${answer.status} ${answer.text}`);
  assert.equal(Object.keys(answer.body ?? {}).sort(), ['error', 'status'], `${what}: ${answer.text}`);
  assert.is(answer.body.status, answer.status);
  for (const leak of [
    '    at ',
    'PostgreSQL',
    'postgres',
    'ECONNREFUSED',
    'INFRA_',
    'slonik',
    'node_modules',
    '127.0.0.1',
    String(cluster!.port),
  ]) {
    assert.not.ok(answer.text.includes(leak), `${what}: "${leak}" leaked: ${answer.text}`);
  }
}

test.before(async () => {
  process.once('exit', destroyOnExit);
  cluster = await ThrowawayCluster.create();
  await cluster.start();
  api = await startFaultApi(await freePort(), cluster.url, randomBytes(16).toString('hex'));
});

test.after(async () => {
  await api?.stop();
  await cluster?.destroy();
  process.off('exit', destroyOnExit);
});

test('writes through HTTP until the database crashes; every call in the outage fails fast with a clean 5xx', async () => {
  let crashed = false;
  const failures: { status: number; text: string; body: any }[] = [];
  // Each writer writes its own keys until it has seen three failures after the crash.
  const writers = Array.from({ length: WRITERS }, (_, w) =>
    (async () => {
      let failed = 0;
      for (let i = 0; failed < 3; i++) {
        const key = `w${w}-${i % 50}`;
        const startedAfterCrash = crashed;
        if (startedAfterCrash && !acknowledged.has(key) && !unacknowledged.has(key)) duringOutage.add(key);
        const answer = await settlesWithin(api!.put({ key, n: i }), 20, `PUT ${key}`);
        if (answer.status === 200) {
          acknowledged.set(key, i);
          unacknowledged.delete(key);
          duringOutage.delete(key);
        } else {
          unacknowledged.set(key, i);
          failures.push(answer);
          if (crashed) failed++;
        }
      }
    })(),
  );
  while (acknowledged.size < 150 && failures.length === 0) await sleep(5);
  assert.is(failures.length, 0, `no failure before the crash: ${failures[0]?.text}`);
  await cluster!.crash();
  crashed = true;
  await settlesWithin(Promise.all(writers), 60, 'the writers');
  assert.ok(failures.length >= WRITERS * 3);
  for (const failure of failures) assertCleanFailure(failure, 'a write during the outage');
});

test('while the database is down the server keeps answering: reads fail fast and cleanly, bad calls still get 4xx, the health check 200', async () => {
  const read = await settlesWithin(api!.get('w0-1'), 20, 'GET during the outage');
  assertCleanFailure(read, 'a read during the outage');
  const bad = await api!.put({ key: '', n: 1 });
  assert.is(bad.status, 400, bad.text);
  const health = await api!.pool.request({ method: 'GET', path: '/healthz' });
  assert.is(health.statusCode, 200);
  assert.equal(await health.body.json(), { status: 'ok', id: faultIds.api.value });
  assert.is(api!.persona.child.exitCode, null, 'the server process is still running');
});

test('after the database starts again the same process serves again, and every acknowledged write is there', async () => {
  await cluster!.start();
  // The store reconnects on its own; the first calls may still meet the old, dead connections.
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    back = (await api!.put({ key: 'after', n: 1 })).status === 200;
    if (!back) await sleep(100);
  }
  assert.ok(back, 'a write succeeds again once the database is back');
  for (const [key, n] of acknowledged) {
    const answer = await api!.get(key);
    assert.is(answer.status, 200, answer.text);
    // A write cut off by the crash may have committed before its answer was lost.
    if (unacknowledged.has(key) && answer.body?.n === unacknowledged.get(key)) continue;
    assert.equal(answer.body, { n }, `acknowledged value of ${key}`);
  }
  for (const key of duringOutage) {
    const answer = await api!.get(key);
    assert.is(answer.body, null, `${key}, refused during the outage, was not stored later`);
  }
  assert.equal((await api!.get('after')).body, { n: 1 });
  // The store said that the database was lost and that it is back (a server still in crash
  // recovery may refuse once more, so lost/back may be said more than once); the handler
  // failures were logged on the server, not sent to the callers.
  const stderr = api!.persona.stderr();
  const stdout = api!.persona.stdout();
  const lost = stderr.split(`Store ${faultIds.db.value}: PostgreSQL cannot be reached`).length - 1;
  const regained = stdout.split(`Store ${faultIds.db.value}: PostgreSQL is reachable again`).length - 1;
  assert.ok(lost >= 1 && regained === lost, `lost ${lost} times, back ${regained} times:\n${stderr.slice(0, 2000)}`);
  assert.ok(stderr.includes(`${faultIds.api.value} PUT /entry: handler failed`), stderr.slice(0, 2000));
});

test('SIGTERM after the outage: the process exits 0', async () => {
  api!.persona.child.kill('SIGTERM');
  assert.is(await api!.persona.exited, 0);
});

test.run();
