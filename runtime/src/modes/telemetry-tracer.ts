/**
 * The tracer a persona registers when it exports spans over OTLP/HTTP in protobuf (the
 * specification's default protocol): the OpenTelemetry API's Tracer and Span, whose spans are
 * written in OTLP's encoding the moment they end (telemetry-span-encoding.ts) and sent in
 * batches by the SDK's own OTLP/HTTP transport (telemetry-span-export.ts).
 *
 * Why not the SDK's TracerProvider: an API call traced on both sides and exported cost about
 * 75 µs of CPU more than untraced, measured in an API under load, where the whole untraced call
 * costs about 100: the SDK's span (its context and sampling objects, hrtime pairs, a ReadableSpan
 * kept until export) about 10 µs a span, and its export (a BatchSpanProcessor's queue, then
 * otlp-transformer's two passes over every span) about 10 more. Here a span is a few fields and
 * its encoded bytes; what is not on that path is the SDK's: the samplers, the attribute rules and
 * limits (@opentelemetry/core's maybeAddAttribute), the resource and its detectors, the OTLP
 * transport (endpoint, headers, compression, timeouts, retries from the OTEL_EXPORTER_OTLP_*
 * variables). Other protocols and exporters (http/json, console) use the SDK's TracerProvider.
 */
import {
  context as contextApi,
  diag,
  INVALID_SPANID,
  INVALID_TRACEID,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
} from '@opentelemetry/api';
import { cleanAttributes, maybeAddAttribute, AddAttributeDecision } from '@opentelemetry/core';
import type { Sampler } from '@opentelemetry/sdk-trace';
import { randomFillSync } from 'node:crypto';
import { envNumber } from '../core/telemetry/settings.ts';
import { CheckedSpanContext, isValidSpanContext } from '../core/telemetry/span-context.ts';
import {
  encodeAttributes,
  type EncodedAttributes,
  type EncodedEvent,
  type EncodedLink,
  type EpochMs,
  type ScopeFields,
  type SpanFields,
} from './telemetry-span-encoding.ts';

/** The span limits of the specification's variables (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, …). */
export interface SpanLimits {
  readonly attributeCountLimit: number;
  readonly attributeValueLengthLimit: number;
  readonly eventCountLimit: number;
  readonly linkCountLimit: number;
  readonly attributePerEventCountLimit: number;
  readonly attributePerLinkCountLimit: number;
}

export function spanLimitsFromEnvironment(env: NodeJS.ProcessEnv): SpanLimits {
  const number = (...names: string[]) => envNumber(env, ...names);
  const attributeCountLimit = number('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT') ?? 128;
  return {
    attributeCountLimit,
    attributeValueLengthLimit:
      number('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT') ?? Infinity,
    eventCountLimit: number('OTEL_SPAN_EVENT_COUNT_LIMIT') ?? 128,
    linkCountLimit: number('OTEL_SPAN_LINK_COUNT_LIMIT') ?? 128,
    attributePerEventCountLimit: number('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT') ?? 128,
    attributePerLinkCountLimit: number('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT') ?? 128,
  };
}

/** Where ended, sampled spans go: encoded into the batch of their scope. */
export interface EndedSpans {
  add(scope: ScopeFields, span: SpanFields): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The invalid (all-zero) trace and span IDs, by their length in bytes. */
const INVALID_IDS: Record<number, string> = { 16: INVALID_TRACEID, 8: INVALID_SPANID };

/** IDs from a pool of random bytes, refilled 4 KiB at a time (one system call for 170 spans). */
class RandomIds {
  #pool = Buffer.allocUnsafe(4096);
  #at = this.#pool.length;

  #hex(bytes: number): string {
    if (this.#at + bytes > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    const id = this.#pool.toString('hex', this.#at, this.#at + bytes);
    this.#at += bytes;
    // All zeros is the invalid ID: vanishingly rare, and then drawn again.
    return id === INVALID_IDS[bytes] ? this.#hex(bytes) : id;
  }

  traceId(): string {
    return this.#hex(16);
  }

  spanId(): string {
    return this.#hex(8);
  }
}

/** A time input (epoch milliseconds, a performance.now() reading, [s, ns], a Date) as epoch milliseconds. */
function epochMs(time: TimeInput | undefined): EpochMs {
  if (time === undefined) return performance.timeOrigin + performance.now();
  if (typeof time === 'number') return time < performance.timeOrigin ? performance.timeOrigin + time : time;
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
}

const EXCEPTION_EVENT = 'exception';
/** The events and links of a span that has none, shared: most have none, and an empty array is an object each. */
const NONE_YET: readonly unknown[] = Object.freeze([]);

class RecordingSpan implements Span, SpanFields {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string | undefined;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly traceFlags: number;
  name: string;
  readonly kind: SpanKind;
  readonly startMs: EpochMs;
  endMs: EpochMs = 0;
  /**
   * The frozen sets the span started with and was given since (setAttributes), each encoded
   * once; `attributes` holds what was set otherwise, after them.
   */
  encodedAttributes: EncodedAttributes[];
  attributes: Attributes;
  droppedAttributesCount: number;
  #attributeCount: number;
  events = NONE_YET as EncodedEvent[];
  droppedEventsCount = 0;
  links = NONE_YET as EncodedLink[];
  droppedLinksCount = 0;
  statusCode: number = SpanStatusCode.UNSET;
  statusMessage: string | undefined;
  #ended = false;
  readonly #context: SpanContext;
  readonly #tracer: LeanTracer;

  constructor(
    tracer: LeanTracer,
    context: SpanContext,
    parent: SpanContext | undefined,
    name: string,
    kind: SpanKind,
    start: EpochMs,
    encoded: EncodedAttributes | undefined,
    attributes: Attributes,
    droppedAttributesCount: number,
    links: Link[],
  ) {
    this.#tracer = tracer;
    this.#context = context;
    this.traceId = context.traceId;
    this.spanId = context.spanId;
    this.traceFlags = context.traceFlags;
    this.traceState = context.traceState?.serialize() || undefined;
    this.parentSpanId = parent?.spanId;
    this.parentIsRemote = parent?.isRemote;
    this.name = name;
    this.kind = kind;
    this.startMs = start;
    this.encodedAttributes = encoded === undefined ? [] : [encoded];
    this.attributes = attributes;
    this.droppedAttributesCount = droppedAttributesCount;
    // A frozen set's span starts with no other attributes unless the sampler added some.
    this.#attributeCount = encoded === undefined ? Object.keys(attributes).length : encoded.count;
    if (links.length > 0) this.addLinks(links);
  }

  /** Whether `key` is one of an encoded set's; if so, the sets are copied into `attributes` to be changed. */
  #unshare(key: string): void {
    const sets = this.encodedAttributes;
    if (!sets.some((set) => Object.hasOwn(set.attributes, key))) return;
    // The SDK keeps a changed key where it was: the sets' keys first, in order, then those set since.
    this.attributes = Object.assign({}, ...sets.map((set) => set.attributes), this.attributes) as Attributes;
    this.encodedAttributes = [];
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.#ended) return this;
    const limits = this.#tracer.limits;
    // A number, a boolean or a string within the length limit, as the runtime sets: kept as is,
    // as maybeAddAttribute would, without its check of any value (a WeakSet made per call).
    const type = typeof value;
    if (
      key.length > 0 &&
      (type === 'number' ||
        type === 'boolean' ||
        (type === 'string' && (value as string).length <= limits.attributeValueLengthLimit))
    ) {
      if (this.encodedAttributes.length > 0) this.#unshare(key);
      const isNew = !Object.hasOwn(this.attributes, key);
      if (isNew && this.#attributeCount >= limits.attributeCountLimit) this.droppedAttributesCount++;
      else {
        this.attributes[key] = value;
        if (isNew) this.#attributeCount++;
      }
      return this;
    }
    if (this.encodedAttributes.length > 0) this.#unshare(key);
    const decision = maybeAddAttribute({
      key,
      value,
      attributes: this.attributes,
      currentAttributesCount: this.#attributeCount,
      limits,
    });
    if (decision === AddAttributeDecision.ADD_NEW) this.#attributeCount++;
    else if (decision === AddAttributeDecision.DROP_LIMIT_REACHED || decision === AddAttributeDecision.DROP_INVALID)
      this.droppedAttributesCount++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    // A frozen set (a client's URL, a status code: the same few, call after call) goes encoded,
    // as a span's first set does, when it can be written after what the span holds, in order:
    // nothing set one by one yet, none of its keys held, all of it within the count limit.
    if (!this.#ended && Object.isFrozen(attributes) && isEmpty(this.attributes)) {
      const checked = this.#tracer.checked(attributes);
      const encoded = checked.encoded!;
      if (
        checked.dropped === 0 &&
        this.#attributeCount + encoded.count <= this.#tracer.limits.attributeCountLimit &&
        !this.encodedAttributes.some((set) => sharesKey(set.attributes, encoded.attributes))
      ) {
        // A new array of the exact length (a push would grow it to seventeen), not by concat,
        // which asks an object argument whether it is to be spread (a lookup that misses).
        const sets = this.encodedAttributes;
        this.encodedAttributes = sets.length === 1 ? [sets[0]!, encoded] : [...sets, encoded];
        this.#attributeCount += encoded.count;
        return this;
      }
    }
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#ended) return this;
    const limits = this.#tracer.limits;
    if (limits.eventCountLimit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    if (this.events.length >= limits.eventCountLimit) {
      // The oldest goes, as the SDK does (a negative limit counts a drop with none to drop).
      if (this.events.length > 0) this.events.shift();
      this.droppedEventsCount++;
    }
    const isTime =
      typeof attributesOrTime === 'number' || attributesOrTime instanceof Date || Array.isArray(attributesOrTime);
    const { attributes = {}, droppedAttributesCount } = cleanAttributes(
      isTime ? undefined : (attributesOrTime as Attributes),
      {
        attributeCountLimit: limits.attributePerEventCountLimit,
        attributeValueLengthLimit: limits.attributeValueLengthLimit,
      },
    );
    if (this.events === NONE_YET) this.events = [];
    this.events.push({
      name,
      time: epochMs(isTime ? (attributesOrTime as TimeInput) : time),
      attributes: attributes as Attributes,
      droppedAttributesCount: droppedAttributesCount ?? 0,
    });
    return this;
  }

  addLink(link: Link): this {
    return this.addLinks([link]);
  }

  addLinks(links: Link[]): this {
    if (this.#ended) return this;
    const limits = this.#tracer.limits;
    for (const link of links) {
      if (this.links.length >= limits.linkCountLimit) {
        this.droppedLinksCount++;
        continue;
      }
      const { attributes = {}, droppedAttributesCount } = cleanAttributes(link.attributes, {
        attributeCountLimit: limits.attributePerLinkCountLimit,
        attributeValueLengthLimit: limits.attributeValueLengthLimit,
      });
      if (this.links === NONE_YET) this.links = [];
      this.links.push({
        link: { context: link.context, attributes: attributes as Attributes },
        droppedAttributesCount: droppedAttributesCount ?? 0,
      });
    }
    return this;
  }

  setStatus(status: SpanStatus): this {
    // OK is final; UNSET changes nothing; a message goes only with ERROR (the specification's rules).
    if (this.#ended || status.code === SpanStatusCode.UNSET || this.statusCode === SpanStatusCode.OK) return this;
    this.statusCode = status.code;
    this.statusMessage = status.code === SpanStatusCode.ERROR ? status.message : undefined;
    return this;
  }

  updateName(name: string): this {
    if (!this.#ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) {
      diag.error(`${this.name} ${this.traceId}-${this.spanId}: the span was already ended`);
      return;
    }
    this.#ended = true;
    const end = epochMs(endTime);
    // A clock set back, or an end time given before the start: no negative duration.
    this.endMs = end < this.startMs ? this.startMs : end;
    if (this.traceFlags & TraceFlags.SAMPLED) this.#tracer.ended(this);
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      if (exception.code !== undefined) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] !== undefined || attributes['exception.message'] !== undefined)
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }
}

function isEmpty(attributes: Attributes): boolean {
  for (const key in attributes) if (Object.hasOwn(attributes, key)) return false;
  return true;
}

function sharesKey(a: Attributes, b: Attributes): boolean {
  for (const key in b) if (Object.hasOwn(b, key) && Object.hasOwn(a, key)) return true;
  return false;
}

interface CheckedAttributes {
  readonly attributes: Attributes;
  readonly dropped: number;
  /** For a frozen set: its kept attributes, encoded once. */
  readonly encoded: EncodedAttributes | undefined;
}

const NO_ATTRIBUTES: CheckedAttributes = { attributes: {}, dropped: 0, encoded: undefined };
const NO_OPTIONS: SpanOptions = Object.freeze({});

class LeanTracer implements Tracer {
  readonly limits: SpanLimits;
  readonly #checkedSets = new WeakMap<Attributes, CheckedAttributes>();
  readonly #scope: ScopeFields;
  readonly #provider: LeanTracerProvider;

  constructor(provider: LeanTracerProvider, scope: ScopeFields) {
    this.#provider = provider;
    this.#scope = scope;
    this.limits = provider.limits;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    const unsampledParent = this.#unsampledParent(context, options);
    if (unsampledParent !== undefined) return unsampledParent;
    const provider = this.#provider;
    if (options.root) context = trace.deleteSpan(context);
    const parentSpan = trace.getSpan(context);
    const parent = parentSpan?.spanContext();
    const hasParent = parent !== undefined && isValidSpanContext(parent);
    const traceId = hasParent ? parent.traceId : provider.ids.traceId();
    const spanId = provider.ids.spanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? [];
    const checked = this.checked(options.attributes);
    const droppedAttributesCount = checked.dropped;
    const sampling = provider.sampler.shouldSample(context, traceId, name, kind, checked.attributes, links);
    const traceState = sampling.traceState ?? (hasParent ? parent.traceState : undefined);
    // SamplingDecision: 0 drop, 1 record only, 2 record and sample.
    const traceFlags = sampling.decision === 2 ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const spanContext = new CheckedSpanContext(traceId, spanId, traceFlags, traceState);
    if (sampling.decision === 0) return trace.wrapSpanContext(spanContext);
    // The span's own attributes, which setAttribute adds to: a frozen set's stay encoded, unless
    // the sampler adds some (after the ones given: the SDK's order).
    let encoded = checked.encoded;
    let attributes: Attributes;
    if (sampling.attributes) {
      attributes = { ...checked.attributes, ...cleanAttributes(sampling.attributes, this.limits).attributes };
      encoded = undefined;
    } else attributes = encoded === undefined ? { ...checked.attributes } : {};
    return new RecordingSpan(
      this,
      spanContext,
      hasParent ? parent : undefined,
      name,
      kind,
      epochMs(options.startTime),
      encoded,
      attributes,
      droppedAttributesCount,
      links,
    );
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a?: SpanOptions | F,
    b?: Context | F,
    c?: F,
  ): ReturnType<F> {
    // Branches rather than a destructured array: one array less per span.
    let options: SpanOptions;
    let parent: Context;
    let fn: F;
    if (typeof a === 'function') {
      options = NO_OPTIONS;
      parent = contextApi.active();
      fn = a;
    } else if (typeof b === 'function') {
      options = a ?? NO_OPTIONS;
      parent = contextApi.active();
      fn = b;
    } else {
      options = a ?? NO_OPTIONS;
      parent = b ?? contextApi.active();
      fn = c!;
    }
    const unsampledParent = this.#unsampledParent(parent, options);
    if (unsampledParent !== undefined)
      return contextApi.with(parent, fn as (span: Span) => ReturnType<F>, undefined, unsampledParent);
    const span = this.startSpan(name, options, parent);
    return contextApi.with(trace.setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }

  /**
   * The parent's span, when the span to start would be dropped for being under a parent not
   * sampled. A parent-based sampler drops such a span whatever it is: it would record nothing
   * and only give what it calls a new span ID, of a span no one ever sees. The parent's span
   * goes on instead, unchanged (its trace ID and "not sampled" reach what the work calls), for
   * a tenth of the work: no span, no IDs, no context of its own.
   */
  #unsampledParent(parent: Context, options: SpanOptions): Span | undefined {
    if (!this.#provider.followsParents || options.root) return undefined;
    const parentSpan = trace.getSpan(parent);
    if (
      parentSpan !== undefined &&
      !parentSpan.isRecording() &&
      (parentSpan.spanContext().traceFlags & TraceFlags.SAMPLED) === 0 &&
      isValidSpanContext(parentSpan.spanContext())
    )
      return parentSpan;
    return undefined;
  }

  /**
   * `attributes` as the limits keep them, and how many were dropped. A frozen set (the runtime
   * passes the same few, call after call) is checked once: its result cannot change.
   */
  checked(attributes: Attributes | undefined): CheckedAttributes {
    if (attributes === undefined) return NO_ATTRIBUTES;
    const frozen = Object.isFrozen(attributes);
    let checked = frozen ? this.#checkedSets.get(attributes) : undefined;
    if (checked === undefined) {
      // Without attributes, cleanAttributes gives no `attributes` at all.
      const { attributes: kept = {}, droppedAttributesCount } = cleanAttributes(attributes, {
        attributeCountLimit: this.limits.attributeCountLimit,
        attributeValueLengthLimit: this.limits.attributeValueLengthLimit,
      });
      checked = {
        attributes: kept as Attributes,
        dropped: droppedAttributesCount ?? 0,
        encoded: frozen ? encodeAttributes(kept as Attributes) : undefined,
      };
      if (frozen) this.#checkedSets.set(attributes, checked);
    }
    return checked;
  }

  ended(span: RecordingSpan): void {
    this.#provider.spans.add(this.#scope, span);
  }
}

/** The TracerProvider registered while spans are exported this way. */
export class LeanTracerProvider implements TracerProvider {
  readonly ids = new RandomIds();
  readonly #tracers = new Map<string, LeanTracer>();
  readonly sampler: Sampler;
  /** Whether the sampler drops every span whose parent is not sampled (the parentbased_* samplers). */
  readonly followsParents: boolean;
  readonly limits: SpanLimits;
  readonly spans: EndedSpans;

  constructor(options: { sampler: Sampler; followsParents: boolean; limits: SpanLimits; spans: EndedSpans }) {
    this.sampler = options.sampler;
    this.followsParents = options.followsParents;
    this.limits = options.limits;
    this.spans = options.spans;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      tracer = new LeanTracer(this, { name, version, schemaUrl: options?.schemaUrl });
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.spans.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.spans.shutdown();
  }
}
