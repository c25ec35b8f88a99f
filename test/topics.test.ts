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

const test = suite('topics');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'topics', 'main.ts');

test('one process: the order reaches both subscriptions, the failing one at its third attempt', async () => {
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
  } finally {
    console.log = log;
    rootLogger().level = level;
    await run.stop();
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
  try {
    const built = await run(process.execPath, ['--conditions=source', 'main.ts'], {
      cwd: root,
      env: env({ PERSONA: 'build' }),
    });
    assert.is(built.code, 0, built.stdout + built.stderr);
    const child = spawn(process.execPath, ['--conditions=source', 'main.ts'], {
      cwd: root,
      env: env({ PERSONA: 'local' }),
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
    } finally {
      child.kill('SIGINT');
      await exited;
      clearTimeout(guard);
    }
  } finally {
    for (const database of databases) {
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {});
      await admin(`DROP ROLE IF EXISTS "${database}"`).catch(() => {});
    }
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
