/**
 * Topics, subscriptions and a cron in real containers (`npm run test:docker`): the scenario of
 * test/fixtures/topics/main.ts as the app of a copy of the project, built with
 * `npm run infra:build` and started with `docker compose up`: an order placed through the API
 * reaches the mailer at once and the invoicer at its third attempt, with one message ID; the
 * cron ticks; the topic's database is reachable only from its publisher and subscriptions.
 *
 * Needs a Docker engine with node:24-bookworm-slim and postgres:17-bookworm (CI prepares them
 * with ../shared/setup/docker-sandbox --from-compose compose.yaml).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';

const project = `infratopics${randomBytes(4).toString('hex')}`;
const MINUTE = 60_000;
const root = mkdtempSync(join(tmpdir(), 'topics-docker-'));

/** The project as a clone has it (with this checkout's changes), the app replaced by the fixture's. */
function copyProject(): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    try {
      cpSync(join(repoRoot, file), join(root, file));
    } catch {
      // Deleted in the work tree but still in the index.
    }
  }
  copyFileSync(join(repoRoot, 'test', 'fixtures', 'topics', 'main.ts'), join(root, 'starter', 'src', 'main.ts'));
  rmSync(join(root, 'starter', 'src', 'components'), { recursive: true, force: true });
  rmSync(join(root, 'starter', 'src', 'customer-server.ts'), { force: true });
  // The workspace's packages, for the build itself (the image installs its own).
  execFileSync('ln', ['-s', join(repoRoot, 'node_modules'), join(root, 'node_modules')]);
}

const compose = (args: string[], timeoutMs = 2 * MINUTE) =>
  run('docker', ['compose', '-p', project, ...args], { cwd: root, env: cleanEnv(), timeoutMs });

const test = suite('topics in containers');

test.after(async () => {
  const down = await compose(['down', '-v', '--remove-orphans']);
  if (down.code !== 0) console.error(`docker compose -p ${project} down -v failed:\n${down.stderr}`);
  rmSync(root, { recursive: true, force: true });
});

test('an order reaches both subscriptions (the invoicer at its third attempt), the cron ticks, the topic is fenced', async () => {
  copyProject();
  const built = await run(process.execPath, ['--conditions=source', 'src/main.ts'], {
    cwd: join(root, 'starter'),
    env: cleanEnv({ PERSONA: 'build' }),
  });
  assert.is(built.code, 0, built.stdout + built.stderr);
  const up = await compose(['up', '-d', '--build', '--no-color'], 15 * MINUTE);
  assert.is(up.code, 0, up.stderr.slice(-4000));
  let logs: string;
  const deadline = Date.now() + 4 * MINUTE;
  for (;;) {
    logs = (await compose(['logs', '--no-color'])).stdout;
    // The failed attempts' warnings are log lines, written asynchronously: wait for them too.
    const seen = [
      /invoicer: order o-1 at attempt 3/,
      /mailer: order o-1/,
      /heartbeat: /,
      /invoicing is down \(attempt 2\)/,
    ];
    if (seen.every((line) => line.test(logs))) break;
    if (Date.now() > deadline) assert.unreachable(`the scenario did not complete in containers:\n${logs.slice(-6000)}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const messageId = /customer: placed o-1 as message (\S+)/.exec(logs)?.[1];
  assert.ok(messageId, logs.slice(-4000));
  assert.match(logs, `mailer: order o-1 (42) as message ${messageId}`);
  assert.match(logs, `invoicer: order o-1 at attempt 3 as message ${messageId}`);
  assert.match(logs, 'invoicing is down (attempt 1)');
  assert.match(logs, 'invoicing is down (attempt 2)');

  // The customer task calls the API but publishes nothing: it cannot even resolve the topic's database.
  const lookup = `require('dns').lookup('topics--orders', (err) => process.exit(err ? 3 : 0))`;
  const fromCustomer = await compose(['run', '--rm', '--no-deps', '-T', 'topics--customer', 'node', '-e', lookup]);
  assert.is(fromCustomer.code, 3, 'the customer task has no route to the topic database');
  const fromMailer = await compose(['exec', '-T', 'topics--mailer', 'node', '-e', lookup]);
  assert.is(fromMailer.code, 0, fromMailer.stderr);
});

test.run();
