/**
 * The runtime's root Context (core/telemetry/context.ts) reads as the API's ROOT_CONTEXT does:
 * the same values after the same sets and deletes, in any order, however long the chain of
 * derived contexts grows, and each context unchanged by what is derived from it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createContextKey, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { ROOT } from 'infra-generator/internal/core/telemetry/context';

const keys = Array.from({ length: 24 }, (_, i) => createContextKey(`key ${i}`));

/** Every key's value in `context`, as an array. */
const read = (context: Context) => keys.map((key) => context.getValue(key));

test('sets and deletes read as on the API root, and no context changes with what is derived from it', () => {
  // A fixed pseudo-random walk: sets, overwrites and deletes, branching from earlier contexts.
  let seed = 7;
  const next = (n: number) => {
    // xorshift32: a fixed, well-spread sequence.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const ours: Context[] = [ROOT];
  const api: Context[] = [ROOT_CONTEXT];
  const seen: unknown[][] = [read(ROOT)];
  for (let step = 0; step < 3000; step++) {
    // Mostly the latest context (long chains), sometimes an older one (branches).
    const from = next(4) === 0 ? next(ours.length) : ours.length - 1;
    const key = keys[next(keys.length)]!;
    const value = next(5) === 0 ? undefined : { step };
    const deleting = next(6) === 0;
    ours.push(deleting ? ours[from]!.deleteValue(key) : ours[from]!.setValue(key, value));
    api.push(deleting ? api[from]!.deleteValue(key) : api[from]!.setValue(key, value));
    seen.push(read(ours.at(-1)!));
    assert.equal(seen.at(-1), read(api.at(-1)!), `step ${step}`);
  }
  // Nothing derived later changed what an earlier context reads.
  ours.forEach((context, i) => assert.equal(read(context), seen[i], `context ${i}`));
});

test('a key deleted reads undefined until set again; deleting a key not set gives the same context', () => {
  const [a, b] = keys as [symbol, symbol];
  const set = ROOT.setValue(a, 1).setValue(b, 2);
  const deleted = set.deleteValue(a);
  assert.is(deleted.getValue(a), undefined);
  assert.is(deleted.getValue(b), 2);
  assert.is(deleted.setValue(a, 3).getValue(a), 3);
  assert.is(set.getValue(a), 1, 'the context deleted from is unchanged');
  assert.is(deleted.deleteValue(a), deleted);
  assert.is(ROOT.deleteValue(a), ROOT);
});

test('a span set on it is the one the API finds, as on the API root', () => {
  const span = trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  });
  const context = trace.setSpan(ROOT, span);
  assert.is(trace.getSpan(context), span);
  assert.is(trace.getSpan(trace.deleteSpan(context)), undefined);
  assert.is(trace.getSpan(ROOT), undefined);
});

test.run();
