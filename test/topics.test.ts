/**
 * Topics and subscriptions as a user runs them (test/fixtures/topics/main.ts): an order placed
 * through an API is published to a topic; a mailer subscription gets it at once, an invoicer
 * whose handler fails twice gets it a third time; a cron ticks every two seconds. In one process (startInProcess, as a
 * generated test would) and as local processes (`PERSONA=local`, each subscription a process
 * of its own, the topic in a database of its own on the tests' PostgreSQL).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appOf, startInProcess } from 'infra-generator';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';
import { admin, adminUrl } from './support/pg-admin.ts';
import { localDatabaseName } from 'infra-generator/internal/resources/databases';
import { rootLogger } from 'infra-generator/internal/core/telemetry/log';
import { until } from './support/until.ts';
import { parentOf, recordTelemetry } from './support/telemetry.ts';
import { startOtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';

const test = suite('topics');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'topics', 'main.ts');

/** What the messaging spans of the scenario must show, in one process and deployed alike. */
interface SpanView {
  name: string;
  traceId: string;
  spanId: string;
  parent: string | undefined;
  attributes: Record<string, unknown>;
  failed: boolean;
}

/**
 * One trace from the customer's deploy task to every handler's attempt: the publish span is
 * beneath the API's server span, each attempt's span beneath the publish span, with the
 * conventions' attributes; the invoicer's first two attempts failed. A cron run is a trace's root.
 */
function assertMessagingTrace(spans: SpanView[], messageId: string, system: string): void {
  const names = () => spans.map((s) => `${s.name} ${s.spanId} <- ${s.parent}`).join('\n');
  const task = spans.find((s) => s.name === 'deploy topics.customer');
  assert.ok(task, names());
  const server = spans.find((s) => s.name === 'POST /order' && s.traceId === task.traceId && s.parent !== task.spanId);
  const publish = spans.find((s) => s.name === 'publish topics.orders');
  assert.ok(server && publish, names());
  assert.is(publish.traceId, task.traceId);
  assert.is(publish.parent, server.spanId, names());
  assert.equal(
    {
      system: publish.attributes['messaging.system'],
      type: publish.attributes['messaging.operation.type'],
      destination: publish.attributes['messaging.destination.name'],
      id: publish.attributes['messaging.message.id'],
      component: publish.attributes['infra.component.id'],
    },
    { system, type: 'send', destination: 'topics.orders', id: messageId, component: 'topics.orders' },
  );
  const attempts = (subscription: string) =>
    spans
      .filter(
        (s) => s.name === 'process topics.orders' && s.attributes['messaging.consumer.group.name'] === subscription,
      )
      .sort((a, b) => Number(a.attributes['infra.message.attempt']) - Number(b.attributes['infra.message.attempt']));
  const mailer = attempts('topics.mailer');
  const invoicer = attempts('topics.invoicer');
  assert.is(mailer.length, 1, names());
  assert.equal(
    invoicer.map((s) => [s.attributes['infra.message.attempt'], s.failed]),
    [
      [1, true],
      [2, true],
      [3, false],
    ],
    names(),
  );
  for (const attempt of [...mailer, ...invoicer]) {
    assert.is(attempt.traceId, task.traceId);
    assert.is(attempt.parent, publish.spanId);
    assert.is(attempt.attributes['messaging.message.id'], messageId);
    assert.is(attempt.attributes['messaging.system'], system);
    assert.is(attempt.attributes['messaging.operation.type'], 'process');
  }
  const cron = spans.find((s) => s.name === 'cron topics.heartbeat');
  assert.ok(cron, names());
  assert.is(cron.parent, undefined);
  assert.match(String(cron.attributes['infra.cron.tick']), /^\d{4}-\d\d-\d\dT/);
}

const viewOf = (s: ReceivedSpan): SpanView => ({
  name: s.name,
  traceId: s.traceId,
  spanId: s.spanId,
  parent: s.parentSpanId || undefined,
  attributes: s.attributes,
  failed: s.status === 2,
});

test('one process: the order reaches both subscriptions, the failing one at its third attempt', async () => {
  const telemetry = await recordTelemetry();
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  const { id } = await import('./fixtures/topics/main.ts');
  const app = appOf(id);
  const run = startInProcess(app.root);
  // The invoicer fails twice on purpose: its warnings would only fill the test output.
  const level = rootLogger().level;
  rootLogger().level = 'error';
  try {
    for (const persona of app.personas) if (persona.lifecycle === 'worker') void run.start(persona).catch(() => {});
    const customer = app.personas.find((p) => p.id.value === 'topics.customer')!;
    await run.start(customer);
    await until(
      () =>
        lines.some((l) => l.startsWith('invoicer:')) &&
        lines.some((l) => l.startsWith('mailer:')) &&
        lines.some((l) => l.startsWith('heartbeat:')),
      15,
      () => lines.join('\n'),
    );
    const messageId = /customer: placed o-1 as message (\S+)/.exec(lines.join('\n'))?.[1];
    assert.ok(messageId, lines.join('\n'));
    assert.ok(lines.includes(`mailer: order o-1 (42) as message ${messageId}`), lines.join('\n'));
    assert.ok(lines.includes(`invoicer: order o-1 at attempt 3 as message ${messageId}`), lines.join('\n'));
    const spans = telemetry.spans().map((s) => ({
      name: s.name,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parent: parentOf(s),
      attributes: s.attributes,
      failed: s.status.code === 2,
    }));
    assertMessagingTrace(spans, messageId, 'infra-generator.memory');
    // The durations: each subscription's attempts (the invoicer's two failures apart), and the publish.
    const histograms = (await telemetry.metrics()).scopeMetrics.flatMap((scope) => scope.metrics);
    const counts = (name: string) =>
      (histograms.find((m) => m.descriptor.name === name)?.dataPoints ?? []).map(
        (point) =>
          `${String(point.attributes['infra.component.id'])} ${String(point.attributes['error.type'] ?? 'ok')} ${(point.value as { count: number }).count}`,
      );
    assert.equal(counts('messaging.process.duration').sort(), [
      'topics.invoicer Error 2',
      'topics.invoicer ok 1',
      'topics.mailer ok 1',
    ]);
    assert.equal(counts('messaging.client.operation.duration'), ['topics.orders ok 1']);
  } finally {
    console.log = log;
    rootLogger().level = level;
    await run.stop();
    await telemetry.stop();
  }
});

test('local processes: the same, each subscription a process, the topic in its own database', async () => {
  const root = mkdtempSync(join(tmpdir(), 'infra-topics-'));
  chmodSync(root, 0o755);
  copyFileSync(FIXTURE, join(root, 'main.ts'));
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const buildDir = join(root, 'build');
  const env = (extra: Record<string, string>) =>
    cleanEnv({ INFRA_BUILD_DIR: buildDir, INFRA_PROJECT_ROOT: root, INFRA_LOCAL_PG_URL: adminUrl, ...extra });
  const databases = ['topics__orders', 'topics__heartbeat__ticks'].map((d) => localDatabaseName(d, buildDir));
  const receiver = await startOtlpReceiver();
  try {
    const built = await run(process.execPath, ['--conditions=source', 'main.ts'], {
      cwd: root,
      env: env({ PERSONA: 'build' }),
    });
    assert.is(built.code, 0, built.stdout + built.stderr);
    const child = spawn(process.execPath, ['--conditions=source', 'main.ts'], {
      cwd: root,
      // Traced: the runner hands these to every persona (spans in JSON, which the receiver reads).
      env: env({
        PERSONA: 'local',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise((resolve) => child.once('close', resolve));
    // Not a measurement: a guard so that a run that hangs fails the test instead of the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    try {
      // The failed attempts' warnings are log lines, written asynchronously: they may come after the success line.
      await until(
        () =>
          /invoicer: order o-1 at attempt 3/.test(output) &&
          /mailer: order o-1/.test(output) &&
          /heartbeat: /.test(output) &&
          output.includes('invoicing is down (attempt 2)'),
        90,
        () => output,
      );
      const messageId = /customer: placed o-1 as message (\S+)/.exec(output)?.[1];
      assert.ok(messageId, output);
      assert.match(output, `mailer: order o-1 (42) as message ${messageId}`);
      assert.match(output, `invoicer: order o-1 at attempt 3 as message ${messageId}`);
      // Each persona exported its own spans: the trace crosses the task, the API and both subscriptions.
      const processSpans = () => receiver.spans.filter((s) => s.name === 'process topics.orders').length;
      await until(
        () => processSpans() >= 4 && receiver.spans.some((s) => s.name === 'cron topics.heartbeat'),
        30,
        () => receiver.spans.map((s) => `${s.service} ${s.name}`).join('\n'),
      );
      assertMessagingTrace(receiver.spans.map(viewOf), messageId, 'pg-boss');
      const services = (name: string) => new Set(receiver.spans.filter((s) => s.name === name).map((s) => s.service));
      assert.equal([...services('publish topics.orders')], ['topics.shop']);
      assert.equal([...services('process topics.orders')].sort(), ['topics.invoicer', 'topics.mailer']);
      // pg-boss's own spans (named after its queues: `send topics__mailer`) would count each message twice.
      assert.equal(
        receiver.spans.filter((s) => s.name.includes('topics__')).map((s) => s.name),
        [],
      );
    } finally {
      child.kill('SIGINT');
      await exited;
      clearTimeout(guard);
    }
  } finally {
    await receiver.close();
    for (const database of databases) {
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {});
      await admin(`DROP ROLE IF EXISTS "${database}"`).catch(() => {});
    }
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
