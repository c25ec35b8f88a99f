/**
 * A store tells the log once when its database is lost and once when it is back. A call that was
 * already under way when the loss was told proves nothing when it succeeds (its answer may have
 * come before the crash): only a call begun after the loss may say the database is back. Under
 * load the other order happened (store-postgres-outage.test.ts once logged lost, back, lost, back).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Reachability } from 'infra-generator/internal/components/store/reachability';

function recorded() {
  const lines: string[] = [];
  const reachability = new Reachability('shop.orders', {
    info: (message) => lines.push(`info: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
  });
  return { lines, reachability };
}

const LOST = 'error: Store shop.orders: PostgreSQL cannot be reached; its calls fail until it is back';
const BACK = 'info: Store shop.orders: PostgreSQL is reachable again';

test('a call begun before the loss that then succeeds does not say the database is back', () => {
  const { lines, reachability } = recorded();
  const early = reachability.callStarted();
  // Another call, begun at the same time, fails: the loss is told.
  reachability.lost(new Error('connection terminated'));
  reachability.succeeded(early);
  assert.equal(lines, [LOST]);
  // Further failures of the same outage are not told again.
  reachability.lost(new Error('connect ECONNREFUSED'));
  assert.equal(lines, [LOST]);
});

test('a call begun after the loss that succeeds says it once; the next loss is told again', () => {
  const { lines, reachability } = recorded();
  reachability.lost(new Error('connection terminated'));
  const later = reachability.callStarted();
  const alsoLater = reachability.callStarted();
  reachability.succeeded(later);
  reachability.succeeded(alsoLater);
  assert.equal(lines, [LOST, BACK]);
  const beforeSecond = reachability.callStarted();
  reachability.lost(new Error('connection terminated'));
  reachability.succeeded(beforeSecond);
  assert.equal(lines, [LOST, BACK, LOST]);
  reachability.succeeded(reachability.callStarted());
  assert.equal(lines, [LOST, BACK, LOST, BACK]);
});

test('successes while reachable say nothing', () => {
  const { lines, reachability } = recorded();
  for (let i = 0; i < 3; i++) reachability.succeeded(reachability.callStarted());
  assert.equal(lines, []);
});

test.run();
