/**
 * An endpoint's deadlines (components/api/deadlines.ts): one timer for all of an endpoint's
 * calls in flight, each expiring at its own time, none after it settled, and no timer left
 * behind once the endpoint is idle.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deadlines } from 'infra-generator/internal/components/api/deadlines';

const test = suite('endpoint deadlines');

/** Timers this process holds now (unref'd ones too), by Node's own count. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('each call expires at its own deadline, in start order, and a removed one never does', async () => {
  const deadlines = new Deadlines(80);
  const expired: string[] = [];
  const started = performance.now();
  const at: Record<string, number> = {};
  const add = (name: string) => deadlines.add(() => (expired.push(name), (at[name] = performance.now() - started)));
  add('a');
  await sleep(30);
  const b = add('b');
  add('c');
  await sleep(30);
  add('d');
  b.remove();
  b.remove(); // twice is harmless
  await sleep(70);
  assert.equal(expired, ['a', 'c'], 'a and c, not b (removed) nor d (not due yet)');
  assert.ok(at.a >= 79, `a expired after its 80 ms (${at.a.toFixed(0)} ms)`);
  assert.ok(at.c >= 109, `c expired after its 80 ms from 30 ms (${at.c.toFixed(0)} ms)`);
  await sleep(30);
  assert.equal(expired, ['a', 'c', 'd']);
});

test('an idle endpoint holds no timer; a busy one holds one, however many calls', async () => {
  const before = timers();
  const deadlines = new Deadlines(60_000);
  const calls = Array.from({ length: 1000 }, () => deadlines.add(() => assert.unreachable('expired')));
  assert.is(timers(), before + 1, 'one timer for 1000 calls');
  for (const call of calls.slice(0, 999)) call.remove();
  assert.is(timers(), before + 1, 'still one while a call is in flight');
  calls[999].remove();
  assert.is(timers(), before, 'none once idle');
});

test('calls added after some expired are still timed, and removing from the middle keeps the rest', async () => {
  const before = timers();
  const deadlines = new Deadlines(40);
  const expired: number[] = [];
  const calls = [0, 1, 2, 3, 4].map((n) => deadlines.add(() => expired.push(n)));
  calls[2].remove();
  calls[0].remove();
  calls[4].remove();
  await sleep(60);
  assert.equal(expired, [1, 3]);
  deadlines.add(() => expired.push(5));
  await sleep(60);
  assert.equal(expired, [1, 3, 5]);
  assert.is(timers(), before, 'no timer once every call expired');
});

test.run();
