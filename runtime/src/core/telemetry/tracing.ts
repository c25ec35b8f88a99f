/**
 * The runtime's spans, through the OpenTelemetry API only: with no SDK registered (telemetry
 * not configured) every call here is the API's no-op, and nothing is recorded or sent. The SDK
 * is started by modes/telemetry-sdk.ts when the OTEL_* variables ask for it, or registered by
 * a test.
 */
import {
  context,
  trace,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { currentContext } from '../app.ts';
import { messageOf } from '../errors.ts';
import { ATTR_COMPONENT_ID, ATTR_PERSONA_ID } from './attributes.ts';
import { ROOT } from './context.ts';

export { SpanKind, type Span, type Attributes };

/** The instrumentation scope of every span and metric of the runtime. */
export const INSTRUMENTATION_SCOPE = 'infra-generator';

let made: { provider: TracerProvider; tracer: Tracer } | undefined;

/** The class of the API's own no-op provider, which the global proxy delegates to until an SDK registers. */
const NoopProvider = new ProxyTracerProvider().getDelegate().constructor;
/** What `fn` gets while nothing traces: a span that records nothing, as the no-op tracer would make. */
export const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether an SDK records spans now. While none is registered, spans would be the API's no-ops:
 * making one is skipped, and so is what callers would only record on it.
 */
export function tracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() instanceof NoopProvider);
}

/**
 * The tracer of the provider registered now. A tracer fetched once would stay bound to the
 * first SDK registered: `trace.disable()` (a test's recorder stopping) replaces the API's proxy
 * provider, and the old proxy's tracers keep the SDK they found first.
 */
function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (made?.provider !== provider) made = { provider, tracer: provider.getTracer(INSTRUMENTATION_SCOPE) };
  return made.tracer;
}

/**
 * Runs `fn` in a new span, active for what `fn` calls (so its spans and log lines are its
 * children), ended when `fn` settles. A thrown error marks the span failed and is recorded;
 * `fn` may set more on the span (a status code). The persona running and `component` are
 * attributes of every span. With `failure: 'type'`, a failure records only the error's type,
 * not its message (a store's errors name the key). `parent`: the context the span continues,
 * the active one unless given (a cron run starts a trace of its own).
 * `outcome`: what to record of the value or the error on a span that records, before it ends
 * (a status code), in the step that ends it rather than one more of the caller's.
 */
export function inSpan<T>(
  name: string,
  kind: SpanKind,
  component: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  failure: 'message' | 'type' = 'message',
  parent?: Context,
  outcome?: SpanOutcome<T>,
): Promise<T> {
  // Telemetry not configured (the usual case, and the one the API benchmark holds to raw
  // Fastify): no span, no context switch; a few hundred nanoseconds less per call and per store call.
  if (!tracing()) return fn(NOT_RECORDING);
  const options = spanOptions(kind, attributes, component, currentContext()?.persona?.id.value);
  // Not an async function: its frame and promises cost a third of what an unsampled span does.
  return tracer().startActiveSpan(name, options, parent ?? context.active(), (span) =>
    runAndEnd(span, fn, failure, outcome),
  );
}

/**
 * As inSpan, for work that hands the span's context on itself (a client call, whose request
 * carries it, or whose server span in one process continues it): `fn` gets the span and the
 * context holding it, and the span is never the active one. Making a span active switches the
 * async context (a copy of Node's context frame, about 800 bytes a call), which such work has
 * no use for.
 */
export function inHandedSpan<T>(
  name: string,
  kind: SpanKind,
  component: string,
  attributes: Attributes,
  fn: (span: Span, traced: Context) => Promise<T>,
  outcome?: SpanOutcome<T>,
): Promise<T> {
  const parent = context.active();
  if (!tracing()) return fn(NOT_RECORDING, parent);
  const span = startSpan(name, kind, component, attributes, parent, currentContext()?.persona?.id.value);
  return runAndEnd(span, fn, 'message', outcome, holding(span, parent));
}

/**
 * As inSpan, for work that enters a persona as it starts (an endpoint's handler, as its server):
 * `enter(traced, work)` runs `work` as `persona` with the span active, which runAs does in one
 * switch of Node's async context where the runtime's context manager is registered (core/app.ts),
 * rather than one to enter the persona and one more to make the span active. `parent`: the
 * context the span continues. Only while tracing().
 */
export function inEnteredSpan<T>(
  name: string,
  kind: SpanKind,
  component: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  parent: Context,
  persona: string,
  enter: (traced: Context, work: () => Promise<T>) => Promise<T>,
  outcome?: SpanOutcome<T>,
): Promise<T> {
  const span = startSpan(name, kind, component, attributes, parent, persona);
  return enter(holding(span, parent), () => runAndEnd(span, fn, 'message', outcome));
}

/** A span beneath `parent`, not made active. */
function startSpan(
  name: string,
  kind: SpanKind,
  component: string,
  attributes: Attributes,
  parent: Context,
  persona: string | undefined,
): Span {
  return tracer().startSpan(name, spanOptions(kind, attributes, component, persona), parent);
}

/** The context holding `span` beneath `parent`. */
function holding(span: Span, parent: Context): Context {
  // Under a parent not sampled, the runtime's tracer may give the parent's own span back (no span made).
  return span === trace.getSpan(parent) ? parent : trace.setSpan(parent, span);
}

/**
 * Runs `fn` and ends `span` when it settles, failed by an error. A span that records nothing
 * (not sampled) has nothing to end or mark failed: no wrapper. `traced`, the context holding
 * the span, is handed to `fn` (inHandedSpan's work takes it).
 */
function runAndEnd<T>(
  span: Span,
  fn: (span: Span, traced: Context) => Promise<T>,
  failure: 'message' | 'type',
  outcome: SpanOutcome<T> | undefined,
  traced: Context = ROOT,
): Promise<T> {
  if (!span.isRecording()) {
    try {
      return fn(span, traced);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
  let pending: Promise<T>;
  try {
    pending = fn(span, traced);
  } catch (err) {
    failed(span, err, failure, outcome);
    return Promise.reject(err as Error);
  }
  return pending.then(
    (value) => {
      // The span ends whatever recording throws: a span left open would never be exported.
      try {
        outcome?.value?.(span, value);
      } finally {
        span.end();
      }
      return value;
    },
    (err: unknown) => {
      failed(span, err, failure, outcome);
      throw err;
    },
  );
}

/** Records `err` on `span` and ends it; the work's own error is what the caller gets, whatever recording throws. */
function failed<T>(span: Span, err: unknown, failure: 'message' | 'type', outcome: SpanOutcome<T> | undefined): void {
  try {
    outcome?.error?.(span, err);
    failSpan(span, err, failure);
  } catch {
    // Telemetry never replaces the work's error.
  } finally {
    span.end();
  }
}

/** What a span records of how its work ended, besides failing on an error (inSpan, inHandedSpan). */
export interface SpanOutcome<T> {
  value?(span: Span, value: T): void;
  error?(span: Span, err: unknown): void;
}

/** The span options made for frozen attribute sets, by set, component, persona and kind. */
const optionSets = new WeakMap<Attributes, Map<string, Map<string | undefined, SpanOptions[]>>>();

/**
 * A span's options: its kind, and `attributes` with its component and persona. Made once for a
 * frozen set (an endpoint's, a store operation's) and each component, persona and kind, and
 * frozen, so that the tracer may check the attributes once too (telemetry-tracer.ts): the same
 * few objects, call after call.
 */
function spanOptions(kind: SpanKind, attributes: Attributes, component: string, persona: string | undefined) {
  const make = (): SpanOptions => {
    const all: Attributes = { ...attributes, [ATTR_COMPONENT_ID]: component };
    if (persona !== undefined) all[ATTR_PERSONA_ID] = persona;
    return Object.freeze({ kind, attributes: Object.freeze(all) });
  };
  if (!Object.isFrozen(attributes)) return make();
  let byComponent = optionSets.get(attributes);
  if (byComponent === undefined) optionSets.set(attributes, (byComponent = new Map()));
  let byPersona = byComponent.get(component);
  if (byPersona === undefined) byComponent.set(component, (byPersona = new Map()));
  let byKind = byPersona.get(persona);
  if (byKind === undefined) {
    byKind = [];
    // Components and personas are the app's few; a bound all the same.
    if (byPersona.size < 100) byPersona.set(persona, byKind);
  }
  return (byKind[kind] ??= make());
}

/**
 * Marks `span` failed by `err`: its status, and the error as an exception event, with its
 * message and stack, or (`'type'`) only its type: the code of one of our errors, else its class.
 */
export function failSpan(span: Span, err: unknown, failure: 'message' | 'type' = 'message'): void {
  if (!span.isRecording()) return;
  if (failure === 'type') {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.addEvent('exception', { 'exception.type': errorTypeOf(err) });
    return;
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(err) });
  if (err instanceof Error) span.recordException(err);
}

/**
 * error.type: a few values, never the message (which may name a key). The error's code (ours,
 * such as INFRA_STORE_UNAVAILABLE, or Node's and undici's, such as ECONNREFUSED), else its name.
 */
export function errorTypeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof Error) return err.name;
  return '_OTHER';
}
