/**
 * The runtime's W3C Trace Context propagator (modes/telemetry-propagation.ts) reads every
 * traceparent as the SDK's does: the same span context from the same headers, whether its own
 * reading of the usual form takes it or the SDK's parser does, and nothing from a header the
 * SDK refuses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultTextMapGetter, ROOT_CONTEXT, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { suppressTracing, TraceState, W3CTraceContextPropagator } from '@opentelemetry/core';
import { CheckedSpanContext } from 'infra-generator/internal/core/telemetry/span-context';
import { TraceContextPropagator, version00 } from 'infra-generator/internal/modes/telemetry-propagation';

const ours = new TraceContextPropagator();
const sdks = new W3CTraceContextPropagator();

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function read(propagator: W3CTraceContextPropagator, headers: Record<string, unknown>): SpanContext | undefined {
  const context = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  const span = trace.getSpanContext(context);
  // The trace state as text: the SDK makes an object of its own for each reading.
  return span && ({ ...span, traceState: span.traceState?.serialize() } as unknown as SpanContext);
}

function sameAsSdk(headers: Record<string, unknown>, label = JSON.stringify(headers)): void {
  assert.equal(read(ours, headers), read(sdks, headers), label);
}

test('the usual header is read without the SDK, to the same span context', () => {
  const header = `00-${TRACE}-${SPAN}-01`;
  const read = version00(header);
  // Checked already: nothing tests its IDs again (span-context.ts).
  assert.instance(read, CheckedSpanContext);
  assert.equal({ ...read }, { traceId: TRACE, spanId: SPAN, traceFlags: 1, traceState: undefined, isRemote: true });
  sameAsSdk({ traceparent: header });
  sameAsSdk({ traceparent: `00-${TRACE}-${SPAN}-00` });
  sameAsSdk({ traceparent: `00-${TRACE}-${SPAN}-ff` });
});

test('every other form is read as the SDK reads it, or refused as it refuses it', () => {
  const forms = [
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 takes nothing more: refused
    `01-${TRACE}-${SPAN}-01-extra`, // a later version may have more: read
    `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace ID
    `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero span ID
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper case
    ` 00-${TRACE}-${SPAN}-01`, // a space before
    `00-${TRACE}-${SPAN}-01 `, // and after
    `00-${TRACE}-${SPAN}-0g`,
    `00-${TRACE}-${SPAN}-1`,
    `00_${TRACE}-${SPAN}-01`,
    `00-${TRACE}_${SPAN}-01`,
    `00-${TRACE}-${SPAN}_01`,
    `00-${TRACE.slice(1)}x-${SPAN}-01`,
    `00-${TRACE}-${SPAN.slice(1)}x-01`,
    '',
  ];
  for (const traceparent of forms) {
    if (traceparent.length === 55) assert.is(version00(traceparent), undefined, traceparent);
    sameAsSdk({ traceparent });
  }
  // A tracestate, a repeated header, a value that is not text: the SDK's reading.
  sameAsSdk({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=value,other=1' });
  sameAsSdk({ traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-00`] });
  sameAsSdk({ traceparent: 42 });
  sameAsSdk({});
});

test('random headers near the usual form: the same reading as the SDK each time', () => {
  const alphabet = '0123456789abcdefABCDEF- xg';
  const base = `00-${TRACE}-${SPAN}-01`;
  for (let i = 0; i < 5000; i++) {
    const chars = [...base];
    // One to three characters changed; sometimes none, sometimes the version.
    for (let n = Math.floor(Math.random() * 4); n > 0; n--)
      chars[Math.floor(Math.random() * chars.length)] = alphabet[Math.floor(Math.random() * alphabet.length)];
    const traceparent = chars.join('');
    sameAsSdk({ traceparent }, traceparent);
  }
});

test('what it writes is what the SDK writes, of a checked span context too', () => {
  const written = (propagator: W3CTraceContextPropagator, context: Context) => {
    const carrier: Record<string, string> = {};
    propagator.inject(context, carrier, { set: (carrier, key, value) => (carrier[key] = value) });
    return carrier;
  };
  const state = new TraceState('vendor=value');
  const contexts = [
    trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: 1 }),
    trace.setSpanContext(ROOT_CONTEXT, new CheckedSpanContext(TRACE, SPAN, 1)),
    trace.setSpanContext(ROOT_CONTEXT, new CheckedSpanContext(TRACE, SPAN, 0)),
    trace.setSpanContext(ROOT_CONTEXT, new CheckedSpanContext(TRACE, SPAN, 1, state, true)),
    suppressTracing(trace.setSpanContext(ROOT_CONTEXT, new CheckedSpanContext(TRACE, SPAN, 1))),
    trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: SPAN, traceFlags: 1 }),
  ];
  for (const context of contexts) assert.equal(written(ours, context), written(sdks, context));
  assert.equal(written(ours, contexts[1]), { traceparent: `00-${TRACE}-${SPAN}-01` });
  assert.equal(written(ours, contexts[2]), { traceparent: `00-${TRACE}-${SPAN}-00` });
  assert.equal(written(ours, contexts[3]), { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=value' });
  assert.equal(written(ours, contexts[4]), {});
  assert.equal(written(ours, contexts[5]), {}, 'an invalid ID is not sent');
});

test.run();
