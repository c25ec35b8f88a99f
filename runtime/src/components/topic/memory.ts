/**
 * A Topic in memory, for one process: a queue per Subscription, with the retries, backoff, ack
 * deadline and dead letters of the PostgreSQL backend, so a test in one process sees what a
 * deployment does. Nothing outlives the process.
 */
import { errors, messageOf } from '../../core/errors.ts';
import { MESSAGING_SYSTEM_MEMORY } from '../../core/telemetry/attributes.ts';
import { retryDelayMs, STOP_GRACE_MS } from './delivery.ts';
import type { AttemptHandler, DeadEnvelope, Envelope, QueueSettings, TopicBackend } from './backend.ts';

interface Held {
  readonly envelope: Envelope;
  attempts: number;
  /** When it may be taken again (a retry's backoff). */
  dueAt: number;
}

class MemoryQueue {
  /** Messages ready now, oldest first; `head` skips the taken ones without shifting the array. */
  #ready: Held[] = [];
  #head = 0;
  /** Messages waiting out a backoff, soonest first. */
  readonly #delayed: Held[] = [];
  readonly dead: DeadEnvelope[] = [];
  readonly #wakers = new Set<() => void>();

  add(held: Held): void {
    if (held.dueAt <= Date.now()) this.#ready.push(held);
    else {
      let i = this.#delayed.length;
      while (i > 0 && this.#delayed[i - 1].dueAt > held.dueAt) i--;
      this.#delayed.splice(i, 0, held);
    }
    this.wake();
  }

  take(now: number): Held | undefined {
    if (this.#delayed.length > 0 && this.#delayed[0].dueAt <= now) return this.#delayed.shift();
    if (this.#head >= this.#ready.length) return undefined;
    const held = this.#ready[this.#head++];
    // Drop the taken prefix now and then, so a long run does not keep every message.
    if (this.#head > 1024 && this.#head * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#head);
      this.#head = 0;
    }
    return held;
  }

  /** Resolves when a message may be ready: one was added, a backoff ended, or `signal` aborted. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const next = this.#delayed[0]?.dueAt;
      const timer = next === undefined ? undefined : setTimeout(done, Math.max(0, next - Date.now()));
      this.#wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  wake(): void {
    for (const waker of [...this.#wakers]) waker();
  }
}

export class MemoryTopicBackend implements TopicBackend {
  readonly messagingSystem = MESSAGING_SYSTEM_MEMORY;
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #closing = new AbortController();

  /** `queues`: the queue of each Subscription of the topic, which get every message from now on. */
  constructor(queues: readonly string[]) {
    for (const name of queues) this.#queues.set(name, new MemoryQueue());
  }

  async publish(envelope: Envelope): Promise<void> {
    for (const queue of this.#queues.values()) queue.add({ envelope, attempts: 0, dueAt: 0 });
  }

  async consume(settings: QueueSettings, handle: AttemptHandler, signal: AbortSignal): Promise<void> {
    const queue = this.#queue(settings);
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    const loop = async () => {
      while (!stop.aborted) {
        const held = queue.take(Date.now());
        if (held) await this.#attempt(queue, held, settings, handle, stop);
        else await queue.wait(stop);
      }
    };
    await Promise.all(Array.from({ length: settings.concurrency }, loop));
  }

  async #attempt(
    queue: MemoryQueue,
    held: Held,
    settings: QueueSettings,
    handle: AttemptHandler,
    stop: AbortSignal,
  ): Promise<void> {
    held.attempts++;
    // The handler's signal: aborted at the ack deadline, and at once when the subscription stops.
    const told = new AbortController();
    let timeUp: (reason: unknown) => void = () => {};
    // Past the deadline, or past the grace a stop gives, its outcome no longer counts.
    const overrun = new Promise<never>((_, reject) => (timeUp = reject));
    const deadline = setTimeout(() => {
      const reason = errors.ackDeadlinePassed(settings.subscription, held.envelope.id, settings.ackDeadlineSeconds);
      told.abort(reason);
      timeUp(reason);
    }, settings.ackDeadlineSeconds * 1000);
    let grace: NodeJS.Timeout | undefined;
    const onStop = () => {
      const reason = errors.subscriptionStopped(settings.subscription, held.envelope.id);
      told.abort(reason);
      grace = setTimeout(() => timeUp(reason), STOP_GRACE_MS);
    };
    stop.addEventListener('abort', onStop, { once: true });
    if (stop.aborted) onStop();
    const running = Promise.resolve().then(() => handle(held.envelope, held.attempts, told.signal));
    let overran = false;
    try {
      await Promise.race([running, overrun]);
    } catch (err) {
      overran = told.signal.aborted && !stop.aborted;
      if (held.attempts >= settings.maxAttempts) {
        queue.dead.push({ ...held.envelope, attempts: held.attempts, error: messageOf(err) });
      } else {
        held.dueAt = Date.now() + retryDelayMs(settings, held.attempts);
        queue.add(held);
      }
    } finally {
      clearTimeout(deadline);
      clearTimeout(grace);
      stop.removeEventListener('abort', onStop);
    }
    // As pg-boss does, a handler that overran its deadline keeps its slot until it returns (or the
    // subscription stops): `concurrency` bounds the handlers actually running, and the retry of
    // its message is not handled beside it.
    if (overran)
      await Promise.race([
        running.catch(() => {}),
        new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true })),
      ]);
  }

  async deadLetters(settings: QueueSettings, limit: number): Promise<DeadEnvelope[]> {
    return this.#queue(settings).dead.slice(0, limit);
  }

  async requeue(settings: QueueSettings, ids: readonly string[] | undefined): Promise<number> {
    const queue = this.#queue(settings);
    const wanted = ids && new Set(ids);
    const moved = queue.dead.filter((d) => !wanted || wanted.has(d.id));
    queue.dead.splice(0, queue.dead.length, ...queue.dead.filter((d) => !moved.includes(d)));
    for (const { id, text, publishedAt, trace } of moved)
      queue.add({ envelope: { id, text, publishedAt, trace }, attempts: 0, dueAt: 0 });
    return moved.length;
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }

  #queue(settings: QueueSettings): MemoryQueue {
    // The topic's subscriptions are fixed at startup, so each has had its queue from the start.
    let queue = this.#queues.get(settings.queue);
    if (!queue) this.#queues.set(settings.queue, (queue = new MemoryQueue()));
    return queue;
  }
}
