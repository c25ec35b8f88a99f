/**
 * A Topic on PostgreSQL, publish → handled: throughput and p50/p99 latency of 2,000 messages
 * (32 publishes in flight, a subscription handling 8 at once, in this process), against pg-boss
 * used directly with the same settings: the same queue options (retries, deadline, dead-letter
 * queue, NOTIFY), the same work options (one job per fetch, 8 local workers, 2 s polling, and the
 * wake-up of the workers after each job that drains a backlog), one `send()` per message. Ours
 * adds a transaction per publish (so a message reaches every subscription or none), the
 * envelope, and the persona's context and log scope per attempt. Runs in a throwaway database on the machine's
 * PostgreSQL (INFRA_BENCH_PG_URL), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PgBoss } from 'pg-boss';
import { appOf, rootId, Subscription, Topic } from 'infra-generator';
import { runAs } from 'infra-generator/internal/core/app';
import { PostgresTopicBackend } from 'infra-generator/internal/components/topic/postgres';
import { TopicPlatform } from '../test/support/topic-platform.ts';
import { admin, adminUrl } from './store.bench.ts';
import { median, report } from './harness.ts';

const MESSAGES = 2000;
const IN_FLIGHT = 32;
const CONCURRENCY = 8;
const ROUNDS = 3;

interface Round {
  /** Messages handled per second, from the first publish to the last message handled. */
  rate: number;
  p50: number;
  p99: number;
}

/** Publishes MESSAGES with IN_FLIGHT at once through `publish`, and waits until `handled` has them all. */
async function round(publish: (n: number) => Promise<unknown>, received: Map<number, number>): Promise<Round> {
  received.clear();
  const sent = new Array<number>(MESSAGES);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < MESSAGES) {
        const n = next++;
        sent[n] = performance.now();
        await publish(n);
      }
    }),
  );
  while (received.size < MESSAGES) await new Promise((r) => setTimeout(r, 5));
  const latencies = [...received].map(([n, at]) => at - sent[n]).sort((a, b) => a - b);
  const last = Math.max(...received.values());
  return {
    rate: MESSAGES / ((last - start) / 1000),
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
  };
}

const ONE_BY_ONE = 200;

/** Latency at light load: ONE_BY_ONE messages, each published once the one before was handled. */
async function oneByOne(publish: (n: number) => Promise<unknown>, received: Map<number, number>): Promise<Round> {
  received.clear();
  const latencies: number[] = [];
  const start = performance.now();
  for (let n = 0; n < ONE_BY_ONE; n++) {
    const sent = performance.now();
    await publish(n);
    while (!received.has(n)) await new Promise((r) => setTimeout(r, 1));
    latencies.push(received.get(n)! - sent);
  }
  latencies.sort((a, b) => a - b);
  return {
    rate: ONE_BY_ONE / ((performance.now() - start) / 1000),
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
  };
}

export async function benchTopics(): Promise<void> {
  const database = `bench_topics_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const stop = new AbortController();
  const quiet = { info() {}, error: (m: string) => console.error(m) };

  // Ours: a Topic and its Subscription, as a persona publishes and another handles.
  const root = rootId('bench-topics');
  const topic = new Topic<{ n: number }>(root`orders`);
  const oursReceived = new Map<number, number>();
  const subscription = new Subscription(
    root`handler`,
    topic,
    (message) => void oursReceived.set(message.n, performance.now()),
    { concurrency: CONCURRENCY, backoff: { initialSeconds: 0 } },
  );
  const platform = new TopicPlatform(
    () =>
      new PostgresTopicBackend(topic.id.value, url.href, {
        log: quiet,
        poolMax: 10,
        queues: topic.subscriptions.map((s) => s.queue),
      }),
  );
  appOf(root).enter('runtime', platform);
  const consuming = runAs(appOf(root), subscription, () => subscription.start(stop.signal));

  // The baseline: pg-boss directly, the queue and worker set as ours sets them.
  const boss = new PgBoss({
    connectionString: url.href,
    schema: 'pgboss_direct',
    max: 10,
    useListenNotify: true,
    superviseIntervalSeconds: 10,
    schedule: false,
  });
  boss.on('error', (err) => console.error(err));
  await boss.start();
  const queue = 'orders_direct';
  await boss.createQueue(`${queue}.dead`, { retryLimit: 0 });
  await boss.createQueue(queue, {
    retryLimit: 4,
    retryDelay: 0,
    retryBackoff: false,
    expireInSeconds: 60,
    retentionSeconds: 10 * 365 * 24 * 3600,
    deadLetter: `${queue}.dead`,
    notify: true,
  });
  const directReceived = new Map<number, number>();
  // With the wake-up after each job that ours does too: without it, pg-boss's workers drain a
  // backlog at one job each per 2 s poll, and the comparison would measure only that.
  let workers: string[] = [];
  const workId = await boss.work<{ n: number }>(
    queue,
    { batchSize: 1, localConcurrency: CONCURRENCY, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 },
    async ([job]) => {
      directReceived.set(job.data.n, performance.now());
      for (const id of workers) boss.notifyWorker(id);
    },
  );
  workers = boss
    .getWipData()
    .filter((w) => w.workId === workId)
    .map((w) => w.id);

  try {
    const sides = {
      ours: (n: number) => topic.publish({ n }),
      direct: (n: number) => boss.send(queue, { n }),
    };
    /** Each side's rounds of `measure`, alternating (after a warm-up of each), and their medians. */
    const compare = async (measure: typeof round) => {
      await measure(sides.ours, oursReceived);
      await measure(sides.direct, directReceived);
      const a: Round[] = [];
      const b: Round[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        if (i % 2 === 0) {
          a.push(await measure(sides.ours, oursReceived));
          b.push(await measure(sides.direct, directReceived));
        } else {
          b.push(await measure(sides.direct, directReceived));
          a.push(await measure(sides.ours, oursReceived));
        }
      }
      const of = (rounds: Round[], key: keyof Round) => median(rounds.map((r) => r[key]));
      const ratio = (key: keyof Round) => median(a.map((r, i) => r[key] / b[i][key]));
      return { of: (key: keyof Round) => [of(a, key), of(b, key), ratio(key)] as const };
    };
    const target = { target: 0.8, targetText: 'at least 0.8 of pg-boss used directly' };
    const loaded = await compare(round);
    const [rate, baseRate, rateRatio] = loaded.of('rate');
    report({
      name: `topic publish → handled throughput (PostgreSQL, ${MESSAGES.toLocaleString('en')} messages, ${IN_FLIGHT} publishes in flight, ${CONCURRENCY} handled at once)`,
      ours: { value: rate, unit: 'msg/s' },
      baseline: { value: baseRate, unit: 'msg/s (pg-boss send() and work(), same settings)' },
      roundRatio: rateRatio,
      better: 'higher',
      ...target,
    });
    const light = await compare(oneByOne);
    for (const key of ['p50', 'p99'] as const) {
      const [ms, baseMs, msRatio] = light.of(key);
      report({
        name: `topic publish → handled latency ${key}, one message at a time (${ONE_BY_ONE} messages)`,
        ours: { value: ms, unit: 'ms' },
        baseline: { value: baseMs, unit: 'ms (pg-boss directly)' },
        roundRatio: msRatio,
        better: 'lower',
        ...target,
      });
    }
  } finally {
    stop.abort();
    await consuming;
    await platform.close();
    await boss.stop({ graceful: false });
    await admin(`DROP DATABASE ${database} WITH (FORCE)`);
  }
}

if (import.meta.main) await benchTopics();
