/**
 * Topics under faults, deployed (pg-boss on PostgreSQL, subscriptions as persona processes of
 * test/fixtures/topic-faults): a subscriber killed in the middle of a handler (its message comes
 * again to the next process); PostgreSQL crashed and restarted while publishing (no
 * acknowledged publish is lost); 10,000 messages through three competing replicas (every one
 * handled; duplicates counted and reported). The test process publishes, as a persona would.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { appOf } from 'infra-generator';
import { wiring } from 'infra-generator/internal/core/wiring';
import { PostgresTopicBackend } from 'infra-generator/internal/components/topic/postgres';
import type { Logger } from 'infra-generator/internal/core/logger';
import { TopicPlatform } from './support/topic-platform.ts';
import { startPersona, type PersonaProcess } from './support/persona-process.ts';
import { admin, adminUrl } from './support/pg-admin.ts';
import { ThrowawayCluster } from './support/throwaway-cluster.ts';
import { bulk, bulkWorker, id, jobs, worker } from './fixtures/topic-faults/app.ts';
import { until } from './support/until.ts';

const test = suite('topics under faults');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'topic-faults', 'main.ts');
const quiet: Logger = { info() {}, error() {} };

const database = `topic_faults_${randomBytes(4).toString('hex')}`;
const url = new URL(adminUrl);
url.pathname = `/${database}`;
/** The test process publishes as a persona would, on the test server's database. */
const platform = new TopicPlatform(
  (topic) =>
    new PostgresTopicBackend(topic.id.value, url.href, {
      log: quiet,
      poolMax: 8,
      queues: topic.subscriptions.map((s) => s.queue),
    }),
);
const processes: PersonaProcess[] = [];
const subscriber = async (dbUrl = url.href, persona = worker, topic = jobs) => {
  const p = await startPersona(FIXTURE, persona.id.value, { [wiring.topicUrl(topic.id)]: dbUrl });
  processes.push(p);
  return p;
};
/** What a deployed subscription says once messages reach it. */
const consuming = (persona: { id: { value: string } }) => `Subscription ${persona.id.value} consuming`;
const handledIn = (p: PersonaProcess) =>
  [...p.stdout().matchAll(/^handled (\S+) (\d+) attempt (\d+) pid (\d+)$/gm)].map((m) => ({
    id: m[1],
    n: Number(m[2]),
    attempt: Number(m[3]),
  }));

test.before(async () => {
  await admin(`CREATE DATABASE ${database}`);
  appOf(id).enter('runtime', platform);
});

test.after.each(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
});

test.after(async () => {
  await platform.close();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

test('a subscriber killed in the middle of a handler: the message comes again, to the next process', async () => {
  const first = await subscriber();
  await first.waitFor(consuming(worker));
  const messageId = await jobs.publish({ n: 1, slow: true });
  await first.waitFor(`begin ${messageId} attempt 1`);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await subscriber();
  // Its ack deadline (2 s) passes with no answer; pg-boss's supervisor (every 10 s) fails it,
  // and it is delivered again.
  await until(
    () => handledIn(second).some((h) => h.id === messageId),
    60,
    () => second.stdout() + second.stderr(),
  );
  assert.equal(
    handledIn(second).filter((h) => h.id === messageId),
    [{ id: messageId, n: 1, attempt: 2 }],
  );
});

test('10,000 messages through three competing replicas: every one handled, duplicates counted', async () => {
  const replicas = [
    await subscriber(url.href, bulkWorker, bulk),
    await subscriber(url.href, bulkWorker, bulk),
    await subscriber(url.href, bulkWorker, bulk),
  ];
  // All three consume before the first message: each then has its share to take.
  await Promise.all(replicas.map((r) => r.waitFor(consuming(bulkWorker))));
  const total = 10_000;
  const published = new Set<string>();
  for (let start = 0; start < total; start += 200) {
    const ids = await Promise.all(
      Array.from({ length: Math.min(200, total - start) }, (_, i) => bulk.publish({ n: start + i })),
    );
    for (const messageId of ids) published.add(messageId);
  }
  const handled = () => replicas.flatMap(handledIn);
  await until(
    () => new Set(handled().map((h) => h.id)).size >= total,
    240,
    () => `${new Set(handled().map((h) => h.id)).size} of ${total} handled`,
  );
  await new Promise((r) => setTimeout(r, 2000));
  const all = handled();
  const distinct = new Set(all.map((h) => h.id));
  const duplicates = all.length - distinct.size;
  const perReplica = replicas.map((r) => handledIn(r).length);
  console.log(
    `  10,000 messages: ${distinct.size} handled, ${duplicates} duplicates, per replica ${perReplica.join(' / ')}`,
  );
  assert.is(distinct.size, total);
  // Nothing crashed and no handler came near its deadline (120 s): pg-boss's SKIP LOCKED hands
  // each message out once.
  assert.is(duplicates, 0, 'no message was handled twice');
  assert.ok(
    [...published].every((m) => distinct.has(m)),
    'every published message was handled',
  );
  assert.ok(
    perReplica.every((n) => n > 0),
    `each replica took some: ${perReplica.join(' / ')}`,
  );
});

test('PostgreSQL crashed and restarted while publishing: no acknowledged publish is lost', async () => {
  const cluster = await ThrowawayCluster.create();
  await cluster.start();
  const crashDb = new URL(cluster.url);
  crashDb.pathname = '/postgres';
  // A fresh backend on the cluster, as a process would have.
  const backend = new PostgresTopicBackend(jobs.id.value, crashDb.href, {
    log: quiet,
    poolMax: 4,
    queues: jobs.subscriptions.map((s) => s.queue),
  });
  try {
    const acknowledged: string[] = [];
    let refused = 0;
    let restarted = false;
    for (let n = 0; acknowledged.length < 600; n++) {
      if (acknowledged.length === 200 && !restarted) {
        restarted = true;
        await cluster.crash();
        setTimeout(() => void cluster.start(), 1000);
      }
      const envelope = { id: crypto.randomUUID(), text: JSON.stringify({ n }), publishedAt: Date.now() };
      try {
        await backend.publish(envelope);
        acknowledged.push(envelope.id);
      } catch {
        refused++;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (n > 5000) throw new Error(`publishing never recovered: ${refused} refused`);
    }
    assert.ok(refused > 0, 'some publishes failed while it was down');
    const reader = await subscriber(crashDb.href);
    await until(
      () => acknowledged.every((m) => handledIn(reader).some((h) => h.id === m)),
      120,
      () => `${handledIn(reader).length} of ${acknowledged.length} acknowledged handled`,
    );
    console.log(
      `  crash while publishing: ${acknowledged.length} acknowledged, all handled; ${refused} refused meanwhile`,
    );
  } finally {
    await backend.close();
    await Promise.all(processes.splice(0).map((p) => p.kill()));
    await cluster.destroy();
  }
});

test.run();
