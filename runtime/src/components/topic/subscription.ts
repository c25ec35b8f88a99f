/**
 * Subscription: a persona (it runs as a worker does) whose handler gets every message published
 * to its topic after the subscription first existed. Several subscriptions of one topic each get
 * every message; the processes (replicas) of one subscription share its messages.
 *
 * Delivery is at least once: a message is acknowledged when the handler resolves; a throw, a
 * crash or a handler past its ack deadline means the message comes again after a backoff, and
 * after `maxAttempts` it goes to the subscription's dead letters, which `deadLetters()` lists
 * and `requeue()` sends through again. Each message keeps one ID through all of it, so a
 * handler can make its work idempotent.
 */
import { brand, hasBrand } from '../../core/brands.ts';
import { Persona, type PersonaOptions } from '../../core/persona.ts';
import type { ID } from '../../core/id.ts';
import { runAs } from '../../core/app.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { assertMayUseTopic, assertRunsAsItself } from '../../core/access.ts';
import { log } from '../../core/telemetry/log.ts';
import { withLogScope } from '../../core/telemetry/scope.ts';
import { deliverySettings, type DeliveryOptions } from './delivery.ts';
import type { Envelope, QueueSettings } from './backend.ts';
import { Topic, topicBackend } from './topic.ts';
import { processTelemetry } from './telemetry.ts';

export interface MessageContext {
  /** The message's ID: the same in every attempt and every subscription. */
  readonly id: string;
  /** 1 for the first delivery, then 2, … up to `maxAttempts`. */
  readonly attempt: number;
  readonly publishedAt: Date;
  /** Aborts when the ack deadline passes or the subscription stops: stop then, the message comes again. */
  readonly signal: AbortSignal;
}

export type MessageHandler<T> = (message: T, context: MessageContext) => void | Promise<void>;

export interface SubscriptionOptions extends PersonaOptions, DeliveryOptions {}

export interface DeadLetter<T> {
  readonly id: string;
  readonly message: T;
  readonly publishedAt: Date;
  /** The attempts it had before it was put aside. */
  readonly attempts: number;
  /** The last attempt's error message, where the backend kept it. */
  readonly error: string | undefined;
}

export class Subscription<T = any> extends Persona {
  /** Whether `value` is a Subscription (of any copy of this package). */
  static isSubscription(value: unknown): value is Subscription<any> {
    return hasBrand(value, 'Subscription');
  }

  readonly lifecycle = 'worker';
  readonly topic: Topic<T>;
  /** Its queue and delivery settings, as the backends read them. */
  readonly queue: QueueSettings;
  /** Private, so no other persona can replace what this one runs (and with its rights). */
  readonly #handler: MessageHandler<T>;

  constructor(id: ID, topic: Topic<T>, handler: MessageHandler<T>, options: SubscriptionOptions = {}) {
    super(id, 'Subscription', options);
    if (!Topic.isTopic(topic))
      throw errors.invalidSubscriptionOption(
        id.value,
        'its topic',
        typeof topic,
        'a Topic, e.g. new Subscription(id, orders, handler)',
      );
    if (typeof handler !== 'function')
      throw errors.notAFunction(
        this.kind,
        id.value,
        'Subscription takes a handler (message, { id, attempt, signal }) => Promise<void>',
      );
    this.topic = topic;
    this.#handler = handler;
    this.queue = Object.freeze({
      subscription: id.value,
      queue: id.sqlName,
      ...deliverySettings(id.value, options),
    });
    topic.subscriptions.push(this);
  }

  /** Handles the topic's messages until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    assertRunsAsItself(this, 'start()');
    const backend = topicBackend(this.topic);
    const traced = processTelemetry(this.topic.id.value, backend.messagingSystem, this.id.value);
    await withLogScope({ component: this.id.value }, () =>
      backend.consume(
        this.queue,
        (envelope, attempt, attemptSignal) => {
          // Each attempt in a span beneath the publisher's (its log lines carry that trace). The
          // span and its duration end when the attempt is decided: when the handler settles, or
          // at its deadline or the stop, which fail it whatever the handler does later. The
          // backend waits on the handler itself, which keeps its place among the `concurrency`.
          let running: Promise<void> | undefined;
          const decided = traced({ id: envelope.id, trace: envelope.trace, attempt }, () => {
            running = this.#attempt(envelope, attempt, attemptSignal);
            return settledOrAborted(running, attemptSignal, () => this.#cutShort(envelope.id, attempt, signal));
          });
          // Its outcome is the span's: the handler's own is what the backend gets.
          decided.catch(() => {});
          // traced() runs its function at once, so the handler has started by now.
          return running!;
        },
        signal,
      ),
    );
  }

  /**
   * Why an attempt was cut short: the subscription's stop, or its ack deadline. An attempt past
   * its deadline while the subscription runs counts as failed whatever the handler does later,
   * so that is said now.
   */
  #cutShort(messageId: string, attempt: number, stop: AbortSignal): Error {
    if (stop.aborted) return errors.subscriptionStopped(this.id.value, messageId);
    log.warn(
      { messageId, attempt },
      `Subscription ${this.id.value}: message ${messageId} took longer than its ack deadline (${this.queue.ackDeadlineSeconds} s) ` +
        `at attempt ${attempt} of ${this.queue.maxAttempts}; it counts as failed (stop the handler when its signal aborts)`,
    );
    return errors.ackDeadlinePassed(this.id.value, messageId, this.queue.ackDeadlineSeconds);
  }

  async #attempt(envelope: Envelope, attempt: number, signal: AbortSignal): Promise<void> {
    const context: MessageContext = Object.freeze({
      id: envelope.id,
      attempt,
      publishedAt: new Date(envelope.publishedAt),
      signal,
    });
    const { maxAttempts } = this.queue;
    // As this persona, whichever of the backend's callbacks runs it: the handler meets this persona's rules.
    try {
      await runAs(this.app, this, () => this.#handler(JSON.parse(envelope.text) as T, context), {
        component: this.id.value,
      });
    } catch (err) {
      const last = attempt >= maxAttempts;
      const text =
        `Subscription ${this.id.value}: message ${envelope.id} failed (attempt ${attempt} of ${maxAttempts}): ${messageOf(err)}; ` +
        (last ? 'it goes to the dead letters (deadLetters(), requeue())' : 'it will be delivered again');
      if (last) log.error({ err, messageId: envelope.id, attempt }, text);
      else log.warn({ err, messageId: envelope.id, attempt }, text);
      throw err;
    }
  }

  /** The messages that used up their attempts, oldest first (at most `limit`, default 100). */
  async deadLetters(options: { limit?: number } = {}): Promise<DeadLetter<T>[]> {
    this.assertPhase('deadLetters()', 'runtime');
    assertMayUseTopic(this.topic, `deadLetters() of ${this.id.value}`, false);
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw errors.invalidSubscriptionOption(
        this.id.value,
        'deadLetters({ limit })',
        limit,
        'a whole number from 1 to 10000',
      );
    const dead = await topicBackend(this.topic).deadLetters(this.queue, limit);
    return dead.map((d) => ({
      id: d.id,
      message: JSON.parse(d.text) as T,
      publishedAt: new Date(d.publishedAt),
      attempts: d.attempts,
      error: d.error,
    }));
  }

  /** Sends dead letters (those of `ids`, or every one) through again, with fresh attempts; resolves to how many. */
  async requeue(ids?: readonly string[]): Promise<number> {
    this.assertPhase('requeue()', 'runtime');
    assertMayUseTopic(this.topic, `requeue() of ${this.id.value}`, false);
    if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')))
      throw errors.invalidSubscriptionOption(
        this.id.value,
        'requeue(ids)',
        ids,
        'an array of message IDs, or nothing for every dead letter',
      );
    return topicBackend(this.topic).requeue(this.queue, ids);
  }
}

brand(Subscription, 'Subscription');

/** `work`'s outcome, or a rejection with `reason()` once `signal` aborts, whichever comes first. */
function settledOrAborted<T>(work: Promise<T>, signal: AbortSignal, reason: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(reason());
    signal.addEventListener('abort', abort, { once: true });
    void work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
