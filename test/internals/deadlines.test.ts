/**
 * An endpoint's deadlines (components/api/deadlines.ts): one timer for all of an endpoint's
 * calls in flight, each expiring at its own time, none after it settled, and no timer holding the
 * process up once the endpoint is idle.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deadlines } from 'infra-generator/internal/components/api/deadlines';

const test = suite('endpoint deadlines');

/** Timers that keep this process up now (not the unref'd ones), by Node's own count. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('each call expires at its own deadline, in start order, and a removed one never does', async () => {
  const deadlines = new Deadlines(80);
  const expired: string[] = [];
  const started = performance.now();
  const now = () => performance.now() - started;
  /** When each call was added, and when it expired (ms since the start). */
  const added: Record<string, number> = {};
  const at: Record<string, number> = {};
  const add = (name: string) => {
    added[name] = now();
    return deadlines.add(() => (expired.push(name), (at[name] = now())));
  };
  add('a');
  await sleep(30);
  const b = add('b');
  add('c');
  await sleep(30);
  add('d');
  b.remove();
  b.remove(); // twice is harmless
  // Timers may fire late on a busy machine, never early: what is checked is the order and that
  // none expired before its own 80 ms, not how soon after.
  for (let waited = 0; expired.length < 3 && waited < 5_000; waited += 20) await sleep(20);
  await sleep(100);
  assert.equal(expired, ['a', 'c', 'd'], 'in start order; b never (removed)');
  for (const name of ['a', 'c', 'd'])
    assert.ok(
      at[name]! - added[name]! >= 79,
      `${name} expired ${(at[name]! - added[name]!).toFixed(0)} ms after it was added`,
    );
});

test('an idle endpoint keeps no timer holding the process up; a busy one holds one, however many calls', async () => {
  const before = timers();
  const deadlines = new Deadlines(60_000);
  const calls = Array.from({ length: 1000 }, () => deadlines.add(() => assert.unreachable('expired')));
  assert.is(timers(), before + 1, 'one timer for 1000 calls');
  for (const call of calls.slice(0, 999)) call.remove();
  assert.is(timers(), before + 1, 'still one while a call is in flight');
  calls[999].remove();
  assert.is(timers(), before, 'none once idle');
  // The idle endpoint's timer is kept but holds nothing up; a new call makes it hold the process
  // up again, so a hung handler in one process still gets its 504 before the process could exit.
  const next = deadlines.add(() => assert.unreachable('expired'));
  assert.is(timers(), before + 1, 'one again for a new call');
  next.remove();
  assert.is(timers(), before, 'none once idle again');
});

test('calls added after some expired are still timed, and removing from the middle keeps the rest', async () => {
  const before = timers();
  const deadlines = new Deadlines(40);
  const expired: number[] = [];
  const calls = [0, 1, 2, 3, 4].map((n) => deadlines.add(() => expired.push(n)));
  calls[2].remove();
  calls[0].remove();
  calls[4].remove();
  // Polled, not slept for: on a busy machine a timer fires late (never early).
  const until = async (count: number) => {
    for (let waited = 0; expired.length < count && waited < 5_000; waited += 10) await sleep(10);
  };
  await until(2);
  await sleep(50);
  assert.equal(expired, [1, 3]);
  deadlines.add(() => expired.push(5));
  await until(3);
  assert.equal(expired, [1, 3, 5]);
  assert.is(timers(), before, 'no timer once every call expired');
});

test.run();
