/**
 * Real containers (`npm run test:docker`, not part of `npm test`): `npm run infra:build` on the
 * starter, then `docker compose up` under a project name of its own; the example client loads
 * its customer and exits 0; the customer survives `docker compose down` (without -v); a second
 * `up` works the same; `down -v` removes everything, also when a step fails.
 *
 * Needs a Docker engine with node:24-bookworm-slim and postgres:17-bookworm (CI prepares them
 * with ../shared/setup/docker-sandbox --from-compose compose.yaml). It writes the repository's
 * compose.yaml and starter/build/ exactly as `npm run infra:build` does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';

const project = `infratest${randomBytes(4).toString('hex')}`;
const DB = 'my-app--customer-server--db';
const CLIENT = 'my-app--example-client';
const DATABASE = 'my_app__customer_server__db';
const CUSTOMER = '{"id":"1","name":"John Doe"}';
const MINUTE = 60_000;

const compose = (args: string[], timeoutMs = 2 * MINUTE) =>
  run('docker', ['compose', '-p', project, ...args], { cwd: repoRoot, env: cleanEnv(), timeoutMs });
const docker = (args: string[]) => run('docker', args, { cwd: repoRoot, env: cleanEnv() });

async function volumes(): Promise<string[]> {
  const result = await docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]);
  return result.stdout.split('\n').filter(Boolean);
}

/** Runs the whole system until the client exits; asserts its line and exit code 0. */
async function upUntilClientExits(extra: string[] = []): Promise<void> {
  const result = await compose(['up', '--no-color', ...extra, '--exit-code-from', CLIENT], 15 * MINUTE);
  const clientLine = result.stdout.split('\n').find((l) => l.startsWith(CLIENT) && l.includes('Loaded customer:'));
  assert.ok(clientLine?.endsWith(`Loaded customer: ${CUSTOMER}`), `the client's line, in:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  assert.is(result.code, 0, result.stderr.slice(-4000));
}

/** The customer row, read straight from the store's PostgreSQL container. */
async function customerInDatabase(): Promise<string> {
  const deadline = Date.now() + 2 * MINUTE;
  const query = `SELECT value FROM ${DATABASE} WHERE key = '1'`;
  for (;;) {
    const result = await compose(['exec', '-T', DB, 'psql', '-U', 'app', '-d', DATABASE, '-tAc', query]);
    if (result.code === 0) return result.stdout.trim();
    // The database is still starting (or still initialising on first start).
    if (Date.now() > deadline) assert.unreachable(`psql in ${DB} failed: ${result.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

const test = suite('docker');

test.after(async () => {
  const down = await compose(['down', '-v', '--remove-orphans']);
  if (down.code !== 0) console.error(`docker compose -p ${project} down -v failed:\n${down.stderr}`);
});

test('docker compose up runs the seed example; the customer survives down and up', async () => {
  const built = await run('npm', ['run', '--silent', 'infra:build'], { cwd: repoRoot, env: cleanEnv() });
  assert.is(built.code, 0, built.stderr);

  await upUntilClientExits(['--build']);

  // The client container never saw the database's URL or password.
  const password = JSON.parse(readFileSync(join(repoRoot, 'starter', 'build', 'values.json'), 'utf8')).values['my-app.customer-server.db.password'];
  const ids = await docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${CLIENT}`]);
  const env = await docker(['inspect', '-f', '{{json .Config.Env}}', ...ids.stdout.split('\n').filter(Boolean)]);
  assert.is(env.code, 0, env.stderr);
  assert.ok(env.stdout.includes('PERSONA=my-app.example-client'), env.stdout);
  assert.not.ok(env.stdout.includes(password) || env.stdout.includes('DB__URL'), 'no database credentials in the client');

  const down = await compose(['down']);
  assert.is(down.code, 0, down.stderr);
  assert.equal(await volumes(), [`${project}_${DB}-data`], 'down without -v keeps the volume');

  // Before the client runs again, the row is already there: it survived the containers.
  const upDb = await compose(['up', '-d', '--no-color', DB]);
  assert.is(upDb.code, 0, upDb.stderr);
  assert.is(await customerInDatabase(), CUSTOMER);

  await upUntilClientExits();

  const removed = await compose(['down', '-v']);
  assert.is(removed.code, 0, removed.stderr);
  assert.equal(await volumes(), []);
});

test.run();
