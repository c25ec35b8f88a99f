/**
 * The contract a Topic's backends keep: in memory (one process) and on PostgreSQL through
 * pg-boss (deployed). One contract suite runs against both (test/internals/topic-contract.test.ts).
 *
 * A message travels as an envelope: its ID, its JSON text (so a handler gets its own copy, and
 * key order survives the database's jsonb) and when it was published. Each Subscription of the
 * topic has a queue of its own, which every publish adds the envelope to (fan-out); the
 * processes of one subscription take from that queue in turn (competing consumers).
 */
import type { DeliverySettings } from './delivery.ts';

/**
 * The publisher's trace context, as the registered propagator writes it (`traceparent`, and
 * `tracestate` or `baggage` when set): a handler's span continues that trace (telemetry.ts).
 */
export type TraceCarrier = Readonly<Record<string, string>>;

export interface Envelope {
  /** Stable across attempts and subscriptions: a handler can make its work idempotent with it. */
  readonly id: string;
  /** The message as JSON text. */
  readonly text: string;
  /** When it was published (milliseconds since the epoch). */
  readonly publishedAt: number;
  /** The publisher's trace context, when it was traced. */
  readonly trace?: TraceCarrier;
}

export interface DeadEnvelope extends Envelope {
  /** The attempts it had. */
  readonly attempts: number;
  /** The last attempt's error, as its message, when the backend kept it. */
  readonly error: string | undefined;
}

/** What a backend knows of a Subscription: its queue's name and how its messages are delivered. */
export interface QueueSettings extends DeliverySettings {
  /** The subscription's ID, for messages. */
  readonly subscription: string;
  /** Its queue's name in the backend (from the ID: a SQL-safe name). */
  readonly queue: string;
}

/**
 * Handles one attempt of one envelope; resolving acknowledges it, rejecting fails the attempt.
 * `signal` aborts when the ack deadline passes or the subscription stops.
 */
export type AttemptHandler = (envelope: Envelope, attempt: number, signal: AbortSignal) => Promise<void>;

export interface TopicBackend {
  /** What spans and metrics name this backend's system (messaging.system: `pg-boss`, or memory). */
  readonly messagingSystem: string;
  /** Adds `envelope` to every subscription's queue; resolves once it is durably stored. */
  publish(envelope: Envelope): Promise<void>;
  /**
   * Takes messages from `queue` (up to its concurrency at once) and hands each to `handle`,
   * until `signal` aborts; then waits for the attempts under way, within a grace period.
   */
  consume(queue: QueueSettings, handle: AttemptHandler, signal: AbortSignal): Promise<void>;
  /** The messages that used up their attempts, oldest first. */
  deadLetters(queue: QueueSettings, limit: number): Promise<DeadEnvelope[]>;
  /** Moves dead letters (those of `ids`, or all) back to the queue with fresh attempts; resolves to how many. */
  requeue(queue: QueueSettings, ids: readonly string[] | undefined): Promise<number>;
  close(): Promise<void>;
}
