/**
 * What a topic's messages record, by OpenTelemetry's messaging conventions: a PRODUCER span
 * `publish <topic>` around a publish, and a CONSUMER span `process <topic>` around each attempt
 * of a subscription's handler, with their durations on messaging.client.operation.duration and
 * messaging.process.duration.
 *
 * The publisher's trace context travels with the message (W3C `traceparent` and `tracestate`,
 * by the registered propagator, kept in the envelope), and each attempt's span is a child of the
 * publish span: a request that publishes an order and the handlers that deal with it are one
 * trace, across personas, as an endpoint call is. Not the caller's baggage, which may name users
 * or tenants and would be kept with the message for as long as it is (years, deployed). A
 * message's body is never recorded: it is the app's data.
 *
 * With no SDK registered, nothing here is made per message: no span, no carrier, no record.
 */
import { propagation, context as contextApi, type Attributes, type Context } from '@opentelemetry/api';
import { ROOT } from '../../core/telemetry/context.ts';
import { errorTypeOf, inSpan, SpanKind, tracing } from '../../core/telemetry/tracing.ts';
import {
  messagingProcessDuration,
  messagingPublishDuration,
  metricsRecording,
  OperationSeries,
} from '../../core/telemetry/metrics.ts';
import {
  ATTR_COMPONENT_ID,
  ATTR_ERROR_TYPE,
  ATTR_MESSAGE_ATTEMPT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from '../../core/telemetry/attributes.ts';
import type { TraceCarrier } from './backend.ts';

/** What a message keeps of its publisher's context: the trace's, not the baggage. */
const TRACE_FIELDS = ['traceparent', 'tracestate'] as const;
/** The longest value of those kept or read back (tracestate is at most 512 characters by its spec). */
const MAX_CARRIER_VALUE = 1024;

/** The spans' and measurements' attribute sets of one operation, made once. */
class MessagingOperation {
  readonly spanName: string;
  readonly spanAttributes: Attributes;
  readonly #component: string;
  readonly #kind: SpanKind;
  readonly #series: OperationSeries;

  /** `subscription`: the one whose attempts these are (process); a publish is the topic's own. */
  constructor(operation: 'publish' | 'process', topic: string, system: string, subscription?: string) {
    const component = subscription ?? topic;
    this.spanName = `${operation} ${topic}`;
    this.#component = component;
    this.#kind = operation === 'publish' ? SpanKind.PRODUCER : SpanKind.CONSUMER;
    const common: Attributes = {
      [ATTR_MESSAGING_SYSTEM]: system,
      [ATTR_MESSAGING_OPERATION_TYPE]: operation === 'publish' ? 'send' : 'process',
      [ATTR_MESSAGING_OPERATION_NAME]: operation,
      [ATTR_MESSAGING_DESTINATION_NAME]: topic,
    };
    if (subscription !== undefined) {
      common[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = subscription;
      common[ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME] = subscription;
    }
    // Frozen: the tracer checks and encodes a frozen set once (inSpan adds the component).
    this.spanAttributes = Object.freeze(common);
    this.#series = new OperationSeries(
      operation === 'publish' ? messagingPublishDuration : messagingProcessDuration,
      () => `${this.spanName} ${component}`,
      Object.freeze({ ...common, [ATTR_COMPONENT_ID]: component }),
    );
  }

  /**
   * Runs `work` in this operation's span (the child of `parent`, else of the active span),
   * measured; `own` gives the call's own attributes, asked only when the span records.
   */
  run<R>(parent: Context | undefined, own: () => Attributes, work: () => Promise<R>): Promise<R> {
    if (!tracing() && !metricsRecording()) return work();
    return inSpan(
      this.spanName,
      this.#kind,
      this.#component,
      this.spanAttributes,
      async (span) => {
        if (span.isRecording()) span.setAttributes(own());
        const startedAt = performance.now();
        try {
          const result = await work();
          this.#series.of().recordSince(startedAt);
          return result;
        } catch (err) {
          const type = errorTypeOf(err);
          if (span.isRecording()) span.setAttribute(ATTR_ERROR_TYPE, type);
          this.#series.of(type).recordSince(startedAt);
          throw err;
        }
      },
      'message',
      parent,
    );
  }
}

/** A topic's publishes: each runs `send` in a publish span, handing it the carrier to store with the message. */
export function publishTelemetry(topic: string, system: string) {
  const operation = new MessagingOperation('publish', topic, system);
  return <R>(
    message: { id: string; bytes: number },
    send: (trace: TraceCarrier | undefined) => Promise<R>,
  ): Promise<R> =>
    operation.run(
      undefined,
      () => ({ [ATTR_MESSAGING_MESSAGE_ID]: message.id, [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: message.bytes }),
      () => send(traceCarrier()),
    );
}

/** A subscription's attempts: each runs in a process span, the child of its message's publish span. */
export function processTelemetry(topic: string, system: string, subscription: string) {
  const operation = new MessagingOperation('process', topic, system, subscription);
  return <R>(
    message: { id: string; trace: TraceCarrier | undefined; attempt: number },
    handle: () => Promise<R>,
  ): Promise<R> =>
    operation.run(
      tracing() ? publisherContext(message.trace) : undefined,
      () => ({ [ATTR_MESSAGING_MESSAGE_ID]: message.id, [ATTR_MESSAGE_ATTEMPT]: message.attempt }),
      handle,
    );
}

/**
 * The active trace context as the registered propagator writes it, its trace fields only
 * (undefined when it writes none).
 */
function traceCarrier(): TraceCarrier | undefined {
  if (!tracing()) return undefined;
  const written: Record<string, string> = {};
  propagation.inject(contextApi.active(), written);
  return traceFields(written);
}

/**
 * The publisher's context from a message's carrier: what the database gave back is checked to be
 * the trace fields, short strings, before a propagator reads it (a message from an older version,
 * or a hand edit, has none or junk: then the attempt starts a trace of its own).
 */
function publisherContext(trace: TraceCarrier | undefined): Context {
  const carrier = trace !== null && typeof trace === 'object' ? traceFields(trace) : undefined;
  return carrier === undefined ? ROOT : propagation.extract(ROOT, carrier);
}

function traceFields(from: Readonly<Record<string, unknown>>): TraceCarrier | undefined {
  let kept: Record<string, string> | undefined;
  for (const name of TRACE_FIELDS) {
    const value = from[name];
    if (typeof value === 'string' && value.length <= MAX_CARRIER_VALUE) (kept ??= {})[name] = value;
  }
  return kept;
}
