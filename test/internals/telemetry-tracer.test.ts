/**
 * The runtime's own tracer (modes/telemetry-tracer.ts) and its OTLP encoding: the bytes it
 * writes are the SDK's serializer's for the same spans, byte for byte; it follows the
 * sampler, the span limits and the API's rules for ended spans; its batches are bounded, drop
 * and count what does not fit, and go out when full, when old enough and when flushed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  context,
  createTraceState,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Span,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  LeanTracerProvider,
  spanLimitsFromEnvironment,
  type EndedSpans,
} from 'infra-generator/internal/modes/telemetry-tracer';
import {
  exportRequest,
  hrTimeOf,
  ProtoWriter,
  resourceBytes,
  scopeBytes,
  writeSpan,
  type ScopeFields,
  type SpanFields,
} from 'infra-generator/internal/modes/telemetry-span-encoding';
import { SpanBatches, type SpanRequest } from 'infra-generator/internal/modes/telemetry-span-export';
import { inHandedSpan } from 'infra-generator/internal/core/telemetry/tracing';
import { decodeTraceRequest } from '../support/otlp-protobuf.ts';

/** Keeps ended spans as the tracer hands them over. */
class Kept implements EndedSpans {
  readonly spans: { scope: ScopeFields; span: SpanFields & Span }[] = [];
  add(scope: ScopeFields, span: SpanFields): void {
    this.spans.push({ scope, span: span as SpanFields & Span });
  }
  forceFlush = async () => {};
  shutdown = async () => {};
}

function provider(sampler: Sampler = new AlwaysOnSampler(), env: NodeJS.ProcessEnv = {}) {
  const kept = new Kept();
  const followsParents = sampler instanceof ParentBasedSampler;
  return {
    kept,
    tracer: new LeanTracerProvider({ sampler, followsParents, limits: spanLimitsFromEnvironment(env), spans: kept }),
  };
}

const resourceAttributes = { 'service.name': 'shop.api', 'infra.app.id': 'shop', 'process.pid': 4242 };
/** One object: the SDK's serializer groups spans by their resource's identity. */
const resource = { attributes: resourceAttributes };

/** The span as the SDK's serializer takes it (a ReadableSpan's fields). */
function readable(scope: ScopeFields, span: SpanFields & Span) {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanId ? { spanId: span.parentSpanId, isRemote: span.parentIsRemote } : undefined,
    startTime: hrTimeOf(span.startMs),
    endTime: hrTimeOf(span.endMs),
    attributes: Object.assign({}, ...span.encodedAttributes.map((set) => set.attributes), span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((e) => ({
      name: e.name,
      time: hrTimeOf(e.time),
      attributes: e.attributes,
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map(({ link, droppedAttributesCount }) => ({ ...link, droppedAttributesCount })),
    droppedLinksCount: span.droppedLinksCount,
    status: { code: span.statusCode, message: span.statusMessage },
    resource,
    instrumentationScope: scope,
  };
}

function ours(scope: ScopeFields, spans: SpanFields[]): Buffer {
  const writer = new ProtoWriter(64);
  for (const span of spans) writeSpan(writer, span);
  return Buffer.from(
    exportRequest(resourceBytes(resourceAttributes), [
      { scope: scopeBytes(scope), schemaUrl: scope.schemaUrl, spans: writer.bytes() },
    ]),
  );
}

test.before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
test.after(() => {
  context.disable();
});

test("every kind of span field is written byte for byte as the SDK's serializer writes it", () => {
  const { kept, tracer } = provider(new AlwaysOnSampler(), { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '40' });
  const t = tracer.getTracer('infra-generator', '1.2.3');
  const root = t.startSpan('GET /orders', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'a.long.value': 'x'.repeat(300),
      // A span over 16 KiB: its length takes three bytes, where two are kept for it.
      'a.huge.value': 'y'.repeat(20_000),
      'not.ascii': 'Größe 🚚',
      int: 42,
      negative: -7,
      big: 2 ** 40 + 3,
      double: 0.25,
      yes: true,
      no: false,
      strings: ['a', 'b'],
      numbers: [1, 2.5, -3],
      flags: [true, false],
    },
  });
  for (let i = 0; i < 50; i++) root.setAttribute(`many.${i}`, i);
  root.addEvent('checkpoint', { step: 1, where: 'début' });
  root.addEvent('at a time', Date.now() - 5);
  root.recordException(Object.assign(new Error('the database went away'), { code: 'ECONNRESET' }));
  root.addLink({
    context: {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: createTraceState('vendor=1'),
    },
    attributes: { reason: 'batch' },
  });
  // IDs no tracer makes, as an app may link them: written as the SDK's serializer reads them.
  for (const [traceId, spanId] of [
    ['AB'.repeat(16), 'CD'.repeat(8)],
    ['zz'.repeat(16), 'g'.repeat(16)],
    ['a'.repeat(31), 'b'.repeat(15)],
    ['', ''],
  ])
    root.addLink({ context: { traceId, spanId, traceFlags: TraceFlags.NONE } });
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
  root.updateName('GET /orders/:id');
  const remoteParent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('congo=t61rcWkgMzE'),
  });
  const child = t.startSpan('POST /pay', { kind: SpanKind.CLIENT }, remoteParent);
  const grandchild = t.startSpan('store get', { kind: SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, child));
  grandchild.end();
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();
  root.end();
  for (const kind of [SpanKind.PRODUCER, SpanKind.CONSUMER]) t.startSpan(`kind ${kind}`, { kind }).end();
  // Frozen sets, as the runtime passes them, are encoded once: a span adds to them, changes one
  // of their keys (kept where it was), or starts with more than the count limit keeps.
  const endpoint = Object.freeze({
    'http.request.method': 'POST',
    'http.route': '/pay',
    'infra.component.id': 'shop.api',
  });
  const added = t.startSpan('POST /pay', { kind: SpanKind.SERVER, attributes: endpoint });
  added.setAttribute('http.response.status_code', 201);
  added.end();
  const changed = t.startSpan('POST /pay again', { kind: SpanKind.SERVER, attributes: endpoint });
  changed.setAttribute('http.response.status_code', 404);
  changed.setAttribute('http.route', '/pay/:id');
  changed.end();
  const many = Object.freeze(Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`set.${i}`, i])));
  const overLimit = t.startSpan('over the limit', { attributes: many });
  overLimit.setAttribute('one.more', true);
  overLimit.end();

  // Frozen sets added (a client's URL, a status code) go encoded after the first, in order,
  // unless one of their keys is held, something was set one by one before, or the limit is near.
  const url = Object.freeze({ 'url.full': 'http://api:8080/pay', 'server.address': 'api', 'server.port': 8080 });
  const status = Object.freeze({ 'http.response.status_code': 200 });
  const sets = t.startSpan('POST /pay sets', { kind: SpanKind.CLIENT, attributes: endpoint });
  sets.setAttributes(url).setAttributes(status).setAttribute('error.type', 'none');
  sets.end();
  const setsChanged = t.startSpan('POST /pay sets changed', { kind: SpanKind.CLIENT, attributes: endpoint });
  setsChanged.setAttributes(url).setAttributes(status).setAttribute('server.port', 8081);
  setsChanged.end();
  const afterOne = t.startSpan('POST /pay one first', { kind: SpanKind.CLIENT, attributes: endpoint });
  afterOne.setAttribute('error.type', 'none');
  afterOne.setAttributes(url);
  afterOne.end();
  const heldKey = t.startSpan('POST /pay held key', { kind: SpanKind.CLIENT, attributes: endpoint });
  heldKey.setAttributes(Object.freeze({ 'http.route': '/pay/:id', 'server.port': 1 }));
  heldKey.end();
  const nearLimit = t.startSpan('near the limit', { attributes: many });
  nearLimit.setAttributes(url);
  nearLimit.end();

  assert.is(kept.spans.length, 13);
  const [addedFields, changedFields, overFields] = kept.spans.slice(5).map((k) => k.span);
  const [setsFields, setsChangedFields, afterOneFields, heldKeyFields, nearLimitFields] = kept.spans
    .slice(8)
    .map((k) => k.span);
  assert.is(setsFields.encodedAttributes.length, 3, 'both added sets went encoded');
  assert.equal(setsFields.attributes, { 'error.type': 'none' });
  assert.is(setsChangedFields.encodedAttributes.length, 0, 'a changed key of an added set: the sets copied');
  assert.equal(Object.keys(setsChangedFields.attributes), [
    ...Object.keys(endpoint),
    ...Object.keys(url),
    ...Object.keys(status),
  ]);
  assert.is(setsChangedFields.attributes['server.port'], 8081);
  assert.is(afterOneFields.encodedAttributes.length, 1, 'a set after one set alone: set key by key, in order');
  assert.equal(Object.keys(afterOneFields.attributes), ['error.type', ...Object.keys(url)]);
  assert.is(heldKeyFields.encodedAttributes.length, 0, 'a set holding a key held: set key by key');
  assert.is(heldKeyFields.attributes['http.route'], '/pay/:id');
  assert.is(
    nearLimitFields.droppedAttributesCount,
    overFields.droppedAttributesCount - 1 + 3,
    'past the limit: dropped one by one',
  );
  assert.is(addedFields.encodedAttributes.length, 1, 'the frozen set went encoded');
  assert.equal(addedFields.attributes, { 'http.response.status_code': 201 });
  assert.is(changedFields.encodedAttributes.length, 0, 'a changed key: the set copied');
  assert.equal(Object.keys(changedFields.attributes), [...Object.keys(endpoint), 'http.response.status_code']);
  assert.is(overFields.droppedAttributesCount, 6);
  for (const { scope, span } of kept.spans) {
    const sdk = Buffer.from(ProtobufTraceSerializer.serializeRequest([readable(scope, span)] as never)!);
    const mine = ours(scope, [span]);
    if (!mine.equals(sdk)) {
      const at = mine.findIndex((byte, i) => byte !== sdk[i]);
      assert.unreachable(
        `${span.name}: our ${mine.length} bytes differ from the SDK's ${sdk.length} from byte ${at}: ` +
          `${mine.subarray(at - 8, at + 8).toString('hex')} against ${sdk.subarray(at - 8, at + 8).toString('hex')}\n` +
          JSON.stringify(decodeTraceRequest(mine)) +
          '\n' +
          JSON.stringify(decodeTraceRequest(sdk)),
      );
    }
  }
  // Several spans in one request, too.
  const scope = kept.spans[0].scope;
  const sdk = Buffer.from(
    ProtobufTraceSerializer.serializeRequest(kept.spans.map(({ span }) => readable(scope, span)) as never)!,
  );
  assert.ok(
    ours(
      scope,
      kept.spans.map((k) => k.span),
    ).equals(sdk),
  );

  // What a collector reads back.
  const [request] = decodeTraceRequest(
    ours(
      scope,
      kept.spans.map((k) => k.span),
    ),
  ).resourceSpans;
  assert.equal(request.scopeSpans[0].scope, { name: 'infra-generator', version: '1.2.3' });
  // In the order they ended.
  const [g, c, r] = request.scopeSpans[0].spans;
  assert.is(r.name, 'GET /orders/:id');
  assert.is(r.droppedAttributesCount, 13 + 50 - 40, 'past the count limit: dropped and counted');
  assert.equal(r.status, { code: 2, message: 'it failed' });
  assert.is(r.events.at(-1)!.name, 'exception');
  assert.ok(
    r.events.at(-1)!.attributes.some((a) => a.key === 'exception.type' && a.value.stringValue === 'ECONNRESET'),
  );
  assert.is(c.traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.is(c.parentSpanId, 'b7ad6b7169203331');
  assert.is(c.traceState, 'congo=t61rcWkgMzE', 'the parent trace state goes on');
  assert.is(c.flags, 0x301, 'sampled, with a remote parent');
  assert.is(g.parentSpanId, c.spanId);
  assert.is(g.traceId, c.traceId);
  const now = BigInt(Date.now()) * 1_000_000n;
  assert.ok(BigInt(r.startTimeUnixNano) <= BigInt(r.endTimeUnixNano));
  assert.ok(now - BigInt(r.startTimeUnixNano) < 5_000_000_000n, 'times are nanoseconds since the epoch');
});

test('the sampler decides: a dropped span is not recorded and its children carry the trace on unsampled', () => {
  const off = provider(new AlwaysOffSampler());
  const span = off.tracer.getTracer('t').startSpan('dropped');
  assert.not.ok(span.isRecording());
  assert.is(span.spanContext().traceFlags, TraceFlags.NONE);
  assert.ok(trace.isSpanContextValid(span.spanContext()));
  span.end();
  assert.is(off.kept.spans.length, 0);

  const parentBased = provider(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }));
  const t = parentBased.tracer.getTracer('t');
  const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '1'.repeat(32),
    spanId: '2'.repeat(16),
    traceFlags: TraceFlags.NONE,
    isRemote: true,
  });
  const sampledParent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '3'.repeat(32),
    spanId: '4'.repeat(16),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
  const notSampled = t.startSpan('child of unsampled', {}, unsampledParent);
  assert.is(notSampled.spanContext().traceId, '1'.repeat(32));
  assert.not.ok(notSampled.isRecording());
  notSampled.end();
  t.startSpan('child of sampled', {}, sampledParent).end();
  t.startSpan('a root, ratio 0').end();
  assert.equal(
    parentBased.kept.spans.map((k) => k.span.name),
    ['child of sampled'],
  );
});

test('startActiveSpan under a parent not sampled, with a parent-based sampler: the parent goes on, no span is made', async () => {
  const unsampled = { traceId: '5'.repeat(32), spanId: '6'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: true };
  const parent = trace.setSpanContext(ROOT_CONTEXT, unsampled);
  const parentBased = provider(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
  const seen = await parentBased.tracer.getTracer('t').startActiveSpan('served', {}, parent, async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    assert.is(trace.getActiveSpan(), span, 'active across awaits');
    span.setAttribute('ignored', 1);
    span.end();
    return span.spanContext();
  });
  // What the span would have carried on: the trace, not sampled. Its own ID would never be seen.
  assert.equal(seen, unsampled);
  // startSpan likewise gives the parent's span back, with a root span made as asked.
  const started = parentBased.tracer.getTracer('t').startSpan('handed on', {}, parent);
  assert.is(started, trace.getSpan(parent));
  started.end();
  const root = parentBased.tracer.getTracer('t').startSpan('a root', { root: true }, parent);
  assert.is.not(root.spanContext().traceId, unsampled.traceId);
  root.end();
  assert.is(parentBased.kept.spans.length, 1, 'only the root, sampled by its own sampler');
  // A sampler that does not follow parents may still sample beneath one that is not sampled.
  const alwaysOn = provider(new AlwaysOnSampler());
  alwaysOn.tracer.getTracer('t').startActiveSpan('served', {}, parent, (span) => span.end());
  assert.equal(
    alwaysOn.kept.spans.map((k) => [k.span.name, k.span.traceId, k.span.parentSpanId]),
    [['served', '5'.repeat(32), '6'.repeat(16)]],
  );
  // A sampled parent gets its child as ever.
  const sampled = trace.setSpanContext(ROOT_CONTEXT, { ...unsampled, traceFlags: TraceFlags.SAMPLED });
  parentBased.tracer.getTracer('t').startActiveSpan('served', {}, sampled, (span) => span.end());
  assert.equal(
    parentBased.kept.spans.map((k) => k.span.parentSpanId),
    [undefined, '6'.repeat(16)],
  );
});

test('inHandedSpan hands the span on without making it active, ends it with its outcome, and makes none under a parent not sampled', async () => {
  const { kept, tracer } = provider(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
  trace.setGlobalTracerProvider(tracer);
  try {
    const caller = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '7'.repeat(32),
      spanId: '8'.repeat(16),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const outcome = { value: (span: Span, value: number) => span.setAttribute('got', value) };
    const got = await context.with(caller, () =>
      inHandedSpan(
        'GET /thing',
        SpanKind.CLIENT,
        'shop.api',
        Object.freeze({ 'http.route': '/thing' }),
        async (span, traced) => {
          assert.is(trace.getSpan(traced), span, 'the context handed on holds the span');
          assert.is(trace.getActiveSpan()?.spanContext().spanId, '8'.repeat(16), 'the caller stays active');
          await new Promise((resolve) => setTimeout(resolve, 1));
          return 42;
        },
        outcome,
      ),
    );
    assert.is(got, 42);
    assert.equal(
      kept.spans.map(({ span }) => [span.name, span.parentSpanId, { ...span.attributes }]),
      [['GET /thing', '8'.repeat(16), { got: 42 }]],
    );
    // A failure ends the span failed, and the caller gets its own error even if recording throws.
    const failing = {
      error: () => {
        throw new Error('recording failed');
      },
    };
    const thrown = await context
      .with(caller, () =>
        inHandedSpan(
          'GET /fails',
          SpanKind.CLIENT,
          'shop.api',
          {},
          () => Promise.reject(new Error('the work')),
          failing,
        ),
      )
      .catch((err: Error) => err.message);
    assert.is(thrown, 'the work');
    assert.is(kept.spans.at(-1)?.span.name, 'GET /fails', 'ended all the same');
    // Under a parent not sampled: no span; the parent's context goes on as it is.
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '7'.repeat(32),
      spanId: '9'.repeat(16),
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
    await context.with(unsampled, () =>
      inHandedSpan('GET /thing', SpanKind.CLIENT, 'shop.api', {}, async (span, traced) => {
        assert.is(traced, unsampled);
        assert.is(span, trace.getSpan(unsampled));
      }),
    );
    assert.is(kept.spans.length, 2);
  } finally {
    trace.disable();
  }
});

test('startActiveSpan makes the span the parent of what runs inside it, also across awaits', async () => {
  const { kept, tracer } = provider();
  const t = tracer.getTracer('t');
  await t.startActiveSpan('outer', async (outer) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    await t.startActiveSpan('inner', { kind: SpanKind.CLIENT }, async (inner) => {
      assert.is(trace.getActiveSpan(), inner);
      inner.end();
    });
    t.startActiveSpan('root', { root: true }, (span) => span.end());
    outer.end();
  });
  const [inner, root, outer] = kept.spans.map((k) => k.span);
  assert.is(inner.parentSpanId, outer.spanContext().spanId);
  assert.not.ok(inner.parentIsRemote, 'a local parent');
  assert.is(root.parentSpanId, undefined);
  assert.is.not(root.traceId, outer.traceId);
  assert.is(trace.getActiveSpan(), undefined);
});

test('an ended span takes no more changes and is handed over once; limits come from the variables', () => {
  const errors: string[] = [];
  diag.setLogger(
    { error: (m) => errors.push(m), warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  try {
    const { kept, tracer } = provider(new AlwaysOnSampler(), {
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '2',
      OTEL_SPAN_LINK_COUNT_LIMIT: '0',
    });
    const span = tracer.getTracer('t').startSpan('limited');
    span.setAttribute('text', 'abcdefgh');
    for (const name of ['one', 'two', 'three']) span.addEvent(name);
    span.addLink({ context: { traceId: '5'.repeat(32), spanId: '6'.repeat(16), traceFlags: 1 } });
    span.end();
    span.setAttribute('late', 1);
    span.addEvent('late');
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    assert.is(kept.spans.length, 1);
    const [{ span: ended }] = kept.spans;
    assert.equal(ended.attributes, { text: 'abcd' });
    assert.equal(
      ended.events.map((e) => e.name),
      ['two', 'three'],
    );
    assert.is(ended.droppedEventsCount, 1);
    assert.is(ended.droppedLinksCount, 1);
    assert.is(ended.statusCode, SpanStatusCode.UNSET);
    assert.is(errors.length, 1, 'the second end is told');
    assert.not.ok(span.isRecording());
  } finally {
    diag.disable();
  }
});

/** A span's fields, for the batches. */
function fieldsOf(i: number): SpanFields {
  return {
    traceId: i.toString(16).padStart(32, '0'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    traceState: undefined,
    parentSpanId: undefined,
    parentIsRemote: undefined,
    traceFlags: 1,
    name: `span ${i}`,
    kind: SpanKind.INTERNAL,
    startMs: Date.now(),
    endMs: Date.now(),
    encodedAttributes: [],
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    statusCode: 0,
    statusMessage: undefined,
  };
}

test('batches: full ones go at once, one at a time; past the queue spans are dropped and told; a flush sends the rest', async () => {
  const warnings: string[] = [];
  diag.setLogger(
    {
      error: (m) => warnings.push(m),
      warn: (m) => warnings.push(m),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const sent: { names: string[]; done: () => void }[] = [];
  const batches = new SpanBatches({
    settings: { maxQueueSize: 10, maxExportBatchSize: 4, scheduledDelayMillis: 60_000, exportTimeoutMillis: 60_000 },
    resourceAttributes: resourceAttributes,
    sender: {
      export: (request: SpanRequest, done) => {
        const names = decodeTraceRequest(request.bytes).resourceSpans[0].scopeSpans[0].spans.map((s) => s.name!);
        assert.is(names.length, request.spans);
        sent.push({ names, done: () => done({ code: 0 }) });
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    },
  });
  try {
    const scope = { name: 'infra-generator' };
    for (let i = 0; i < 30; i++) batches.add(scope, fieldsOf(i));
    // The first full batch is being sent (and never answered yet); the queue holds ten spans at most.
    assert.is(sent.length, 1);
    assert.equal(sent[0].names, ['span 0', 'span 1', 'span 2', 'span 3']);
    assert.is(warnings.filter((w) => w.startsWith('Dropped spans')).length, 1, 'the first drop is told, once');
    sent[0].done();
    await new Promise((resolve) => setImmediate(resolve));
    assert.is(sent.length, 2, 'the next batch goes when the first is answered');
    const flushed = batches.forceFlush();
    for (let i = 1; i < 10 && sent.length > i; i++) {
      sent[i].done();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await flushed;
    const names = sent.flatMap((s) => s.names);
    assert.is(names.length, 4 + 10, 'the batch in flight and the ten queued');
    assert.ok(
      warnings.some((w) => /^Dropped 16 spans/.test(w)),
      warnings.join('\n'),
    );
  } finally {
    diag.disable();
  }
});

test('batches: a batch not full goes when it is scheduledDelayMillis old', async () => {
  const sent: number[] = [];
  const batches = new SpanBatches({
    settings: { maxQueueSize: 100, maxExportBatchSize: 50, scheduledDelayMillis: 30, exportTimeoutMillis: 1000 },
    resourceAttributes: resourceAttributes,
    sender: {
      export: (request: SpanRequest, done) => (sent.push(request.spans), done({ code: 0 })),
      forceFlush: async () => {},
      shutdown: async () => {},
    },
  });
  batches.add({ name: 't' }, fieldsOf(1));
  batches.add({ name: 'u' }, fieldsOf(2));
  assert.equal(sent, []);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(sent, [2], 'both scopes in one request');
  await batches.shutdown();
  batches.add({ name: 't' }, fieldsOf(3));
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(sent, [2], 'nothing after shutdown');
});

test.run();
