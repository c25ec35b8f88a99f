/**
 * A Topic on PostgreSQL, through pg-boss, in the topic's own database (schema `pgboss`). Each
 * Subscription is a pg-boss queue named after its ID, with its retries, backoff, ack deadline
 * (pg-boss's expiry) and a dead-letter queue of its own (`<queue>.dead`). A publish adds the
 * message to every subscription's queue in one transaction, so it reaches all of them or none;
 * replicas take jobs with `SKIP LOCKED`, so each message goes to one of them at a time.
 *
 * The queues are the tree's: every process that opens the topic makes those missing and sets
 * their options (pg-boss does both under its own lock), so a subscription gets every message
 * published once any process of a build that has it has opened the topic.
 */
import type { PgBoss, Job, JobWithMetadata, Db } from 'pg-boss';
import type { Logger } from '../../core/logger.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { MESSAGING_SYSTEM_PG_BOSS } from '../../core/telemetry/attributes.ts';
import { STOP_GRACE_MS } from './delivery.ts';
import type { AttemptHandler, DeadEnvelope, Envelope, QueueSettings, TopicBackend, TraceCarrier } from './backend.ts';

/** pg-boss's schema in the topic's database. */
const SCHEMA = 'pgboss';
/**
 * How long an undelivered message is kept: pg-boss's default (14 days) would drop the messages of
 * a subscription that stays down longer. Ten years is "until delivered".
 */
const RETENTION_SECONDS = 10 * 365 * 24 * 3600;
/**
 * Polling is the floor under LISTEN/NOTIFY, which wakes the consumers at once for a new message
 * but not for a retry whose backoff ended: those wait for the next poll.
 */
const POLLING_SECONDS = 2;
/**
 * How often pg-boss looks for messages whose handler's process died (their ack deadline passed
 * with no answer) and fails them, so they are delivered again: its default is every 60 s.
 */
const SUPERVISE_SECONDS = 10;
/** A repeated pg-boss error or warning (its maintenance, its listener) is logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/** What a job carries: the envelope (the text keeps the message's own key order, which jsonb would not). */
interface JobData {
  readonly id: string;
  readonly text: string;
  readonly at: number;
  /** The publisher's trace context (telemetry.ts), when it was traced. */
  readonly tc?: TraceCarrier;
}

export interface PostgresTopicOptions {
  log: Logger;
  poolMax: number;
  /** The queues of the topic's subscriptions (every one, from the tree). */
  queues: readonly QueueSettings[];
}

const deadQueue = (queue: string) => `${queue}.dead`;

export class PostgresTopicBackend implements TopicBackend {
  readonly messagingSystem = MESSAGING_SYSTEM_PG_BOSS;
  readonly #topic: string;
  readonly #url: string;
  readonly #options: PostgresTopicOptions;
  #starting: Promise<PgBoss> | undefined;
  #closed = false;
  /** When each distinct problem was last logged. */
  readonly #lastLogged = new Map<string, number>();

  constructor(topic: string, url: string, options: PostgresTopicOptions) {
    this.#topic = topic;
    this.#url = url;
    this.#options = options;
  }

  async publish(envelope: Envelope): Promise<void> {
    const boss = await this.#boss('publish()');
    // No trace: `tc` is undefined, which the job's JSON leaves out.
    const data: JobData = { id: envelope.id, text: envelope.text, at: envelope.publishedAt, tc: envelope.trace };
    const queues = this.#options.queues;
    try {
      if (queues.length === 1) {
        // One statement is atomic already: no transaction's two extra round trips.
        await boss.send(queues[0].queue, data, { id: envelope.id });
      } else if (queues.length > 1) {
        // One transaction: every subscription gets the message, or none does and the caller is told.
        const db = boss.getDb() as Db & { withTransaction<R>(fn: (tx: Db) => Promise<R>): Promise<R> };
        await db.withTransaction(async (tx: Db) => {
          for (const { queue } of queues) await boss.send(queue, data, { id: envelope.id, db: tx });
        });
      }
    } catch (err) {
      throw errors.topicUnavailable(this.#topic, 'publish()', err);
    }
  }

  async consume(settings: QueueSettings, handle: AttemptHandler, signal: AbortSignal): Promise<void> {
    const boss = await this.#boss(`Subscription ${settings.subscription}`);
    if (signal.aborted) return;
    // pg-boss's workers wait out the polling interval after each job, even with more queued
    // (it bursts only on batches, or on a queue count cached for a minute): a backlog would drain
    // at one message per worker every 2 s. So each finished attempt wakes this subscription's
    // workers, as a new message's NOTIFY does; one that finds nothing waits again.
    let workers: readonly string[] = [];
    const wakeWorkers = () => {
      for (const id of workers) boss.notifyWorker(id);
    };
    const workerId = await boss.work<JobData>(
      settings.queue,
      {
        batchSize: 1,
        localConcurrency: settings.concurrency,
        pollingIntervalSeconds: POLLING_SECONDS,
        notifyPollingIntervalSeconds: POLLING_SECONDS,
      },
      async ([job]: Job<JobData>[]) => {
        const { id, text, at, tc } = job.data;
        const attemptSignal = AbortSignal.any([job.signal, signal]);
        try {
          await handle({ id, text, publishedAt: at, trace: tc }, job.retryCount + 1, attemptSignal);
        } finally {
          wakeWorkers();
        }
      },
    );
    workers = boss
      .getWipData()
      .filter((w) => w.workId === workerId)
      .map((w) => w.id);
    if (signal.aborted) {
      // Stopped while the worker was being registered: its abort event has passed.
      await boss.offWork(settings.queue, { id: workerId, wait: true }).catch(() => {});
      return;
    }
    // As an API server says where it listens: from here on, messages reach this process.
    this.#options.log.info(
      `Subscription ${settings.subscription} consuming ${this.#topic} (${settings.concurrency} at a time)`,
    );
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    // pg-boss waits for a handler as long as its deadline (up to a day): the stop waits the
    // grace period at most, then its attempts are failed when pg-boss stops (close()).
    await Promise.race([
      boss.offWork(settings.queue, { id: workerId, wait: true }).catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
    ]);
  }

  async deadLetters(settings: QueueSettings, limit: number): Promise<DeadEnvelope[]> {
    const boss = await this.#boss(`deadLetters() of ${settings.subscription}`);
    try {
      const jobs = (await boss.findJobs<JobData>(deadQueue(settings.queue), {
        queued: true,
        limit,
      })) as JobWithMetadata<JobData>[];
      return jobs.map((job) => ({
        id: job.data.id,
        text: job.data.text,
        publishedAt: job.data.at,
        attempts: (job.sourceRetryCount ?? 0) + 1,
        error: errorText(job.sourceOutput),
      }));
    } catch (err) {
      throw errors.topicUnavailable(this.#topic, `deadLetters() of ${settings.subscription}`, err);
    }
  }

  async requeue(settings: QueueSettings, ids: readonly string[] | undefined): Promise<number> {
    const boss = await this.#boss(`requeue() of ${settings.subscription}`);
    const dead = deadQueue(settings.queue);
    try {
      if (ids === undefined) {
        let moved = 0;
        for (let n = -1; n !== 0; moved += n)
          n = await boss.redrive(dead, { destination: settings.queue, limit: 1000 });
        return moved;
      }
      // The caller names messages; the dead-letter queue names its jobs: find each message's.
      const jobIds: string[] = [];
      for (const id of new Set(ids))
        for (const job of await boss.findJobs<JobData>(dead, { data: { id }, queued: true })) jobIds.push(job.id);
      if (jobIds.length === 0) return 0;
      return await boss.redrive(dead, { destination: settings.queue, ids: jobIds, limit: jobIds.length });
    } catch (err) {
      throw errors.topicUnavailable(this.#topic, `requeue() of ${settings.subscription}`, err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const starting = this.#starting;
    if (!starting) return;
    const boss = await starting.catch(() => undefined);
    await boss?.stop({ graceful: true, timeout: STOP_GRACE_MS });
  }

  /** Logs `text` about this topic, each distinct text at most once a minute. */
  #report(text: string, err: unknown): void {
    const now = Date.now();
    if (now - (this.#lastLogged.get(text) ?? -Infinity) < ERROR_LOG_INTERVAL_MS) return;
    if (this.#lastLogged.size > 100) this.#lastLogged.clear();
    this.#lastLogged.set(text, now);
    this.#options.log.error(`Topic ${this.#topic}: ${text}`, err);
  }

  /** pg-boss, started, with the tree's queues made; a failed start is tried again at the next call. */
  #boss(operation: string): Promise<PgBoss> {
    if (this.#closed) return Promise.reject(errors.topicClosed(this.#topic, operation));
    const starting = (this.#starting ??= this.#start());
    return starting.catch((err) => {
      if (this.#starting === starting) this.#starting = undefined;
      throw errors.topicUnavailable(this.#topic, operation, err);
    });
  }

  async #start(): Promise<PgBoss> {
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({
      connectionString: this.#url,
      schema: SCHEMA,
      max: this.#options.poolMax,
      application_name: `infra-generator topic ${this.#topic}`.slice(0, 63),
      useListenNotify: true,
      superviseIntervalSeconds: SUPERVISE_SECONDS,
      // The topic's processes need no cron of pg-boss's (schedules are Cron components).
      schedule: false,
      // The runtime makes a topic's spans and metrics itself (telemetry.ts), the same in one
      // process and deployed; pg-boss's own (a span per queue and per job, metrics of the same
      // names) would count each message twice.
      openTelemetry: { enabled: false },
    });
    // pg-boss reports its background failures as events; without a listener one would end the process.
    boss.on('error', (err) => this.#report(`its database reported a problem (${messageOf(err)})`, err));
    // Its warnings: a handler overran its deadline, a queue grew past its warning size, …
    boss.on('warning', (warning) => this.#report(`pg-boss warns: ${warning.message}`, undefined));
    try {
      await boss.start();
      for (const settings of this.#options.queues) await ensureQueue(boss, settings);
    } catch (err) {
      await boss.stop({ graceful: false, timeout: 1000 }).catch(() => {});
      throw err;
    }
    return boss;
  }
}

/** Makes the subscription's queue and its dead-letter queue, or brings their options up to the code's. */
async function ensureQueue(boss: PgBoss, settings: QueueSettings): Promise<void> {
  const { initialSeconds, maxSeconds } = settings.backoff;
  const backoff = initialSeconds > 0;
  const options = {
    retryLimit: settings.maxAttempts - 1,
    retryDelay: initialSeconds,
    retryBackoff: backoff,
    // pg-boss takes a longest wait only with backoff; with none there is no wait to bound.
    ...(backoff ? { retryDelayMax: maxSeconds } : {}),
    expireInSeconds: settings.ackDeadlineSeconds,
    retentionSeconds: RETENTION_SECONDS,
    deadLetter: deadQueue(settings.queue),
    notify: true,
  };
  const dead = { retentionSeconds: RETENTION_SECONDS, retryLimit: 0 };
  if (!(await boss.getQueue(deadQueue(settings.queue)))) await boss.createQueue(deadQueue(settings.queue), dead);
  if (!(await boss.getQueue(settings.queue))) await boss.createQueue(settings.queue, options);
  else await boss.updateQueue(settings.queue, options);
}

/** A failed job's output, as pg-boss keeps a thrown error (`{ name, message, stack }`), as its message. */
function errorText(output: unknown): string | undefined {
  if (output === null || output === undefined) return undefined;
  if (typeof output === 'object' && typeof (output as { message?: unknown }).message === 'string')
    return (output as { message: string }).message;
  return JSON.stringify(output);
}
