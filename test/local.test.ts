/**
 * The local-processes mode on the starter: `npm run infra:build`, then
 * `npm run infra:local -- --exit-with-tasks`, in a temporary copy of the project (so the
 * repository's own build folder is untouched), with the Store in its own database on this
 * machine's PostgreSQL (dropped afterwards).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { join } from 'node:path';
import pg from 'pg';
import { cleanEnv, run, tempProject, type TempProject } from './support/temp-project.ts';
import { localDatabaseName, storeUrl } from 'infra-generator/internal/resources/databases';
import { personaProcessEnvironment } from 'infra-generator/internal/modes/local/local';

import { adminUrl, dropStarterLocalDatabase } from './support/pg-admin.ts';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
const CUSTOMER_LINE = 'Loaded customer: {"id":"1","name":"John Doe"}';

const test = suite('local processes');
let project: TempProject;

test.before(() => {
  project = tempProject();
});

test.after(async () => {
  await dropStarterLocalDatabase(project.buildDir);
  project.remove();
});

test("a persona's process gets the runner's PATH, HOME, locale, Node options and connection counts besides its own variables, nothing else", () => {
  const runner = {
    PATH: '/usr/bin',
    HOME: '/home/me',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    NODE_OPTIONS: '--conditions=source',
    PERSONA: 'local',
    INFRA_LOCAL_PG_URL: 'postgres://postgres:admin@127.0.0.1:5432/postgres',
    MY_SHELL_SECRET: 'from the shell',
    CUSTOMERS_DB_URL: 'postgres://app:prod@db.example.com/customers',
    MY_APP__CUSTOMER_SERVER__DB__POOL_MAX: '20',
    MY_APP__CUSTOMER_SERVER__API__CONNECTIONS: '8',
  };
  assert.equal(personaProcessEnvironment(runner, { PERSONA: 'my-app.customer-server.api', PATH: '/its/own' }), {
    PATH: '/its/own',
    HOME: '/home/me',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    NODE_OPTIONS: '--conditions=source',
    PERSONA: 'my-app.customer-server.api',
    MY_APP__CUSTOMER_SERVER__DB__POOL_MAX: '20',
    MY_APP__CUSTOMER_SERVER__API__CONNECTIONS: '8',
  });
});

test("a Store's local URL names its role and password, and keeps none of the admin URL's credentials", () => {
  const admin = 'postgres://postgres:admin@127.0.0.1:5432/postgres?sslmode=require&password=admin&sslkey=/admin.key';
  assert.is(
    storeUrl(admin, 'shop__db_abcdefgh', 'shop__db_abcdefgh', 'p/w'),
    'postgres://shop__db_abcdefgh:p%2Fw@127.0.0.1:5432/shop__db_abcdefgh?sslmode=require',
  );
  // A Unix socket's folder in `host`: moved where a URL can hold a user beside it.
  assert.is(
    storeUrl('postgres:///postgres?host=/run/postgresql&user=postgres', 'shop__db_abcdefgh', 'shop__db_abcdefgh', 'pw'),
    'postgres://shop__db_abcdefgh:pw@%2Frun%2Fpostgresql/shop__db_abcdefgh',
  );
});

test('without a build, it says to build first', async () => {
  const result = await run('npm', ['run', '--silent', 'infra:local', '--', '--exit-with-tasks'], {
    cwd: project.root,
    env: cleanEnv({ INFRA_LOCAL_PG_URL: adminUrl }),
  });
  assert.is(result.code, 1);
  assert.ok(result.stderr.includes('Run `npm run infra:build` first'), result.stderr);
});

test('each persona runs as its own process; the client loads its customer through the API from PostgreSQL', async () => {
  const built = await run('npm', ['run', '--silent', 'infra:build'], { cwd: project.root });
  assert.is(built.code, 0, built.stderr);
  assert.ok(existsSync(join(project.buildDir, 'values.json')));

  // The second round is traced: the runner's OTEL_* variables reach every persona.
  const receiver = await startOtlpReceiver();
  // Closed whatever happens: a receiver left listening after a failed round keeps the test
  // process alive after its totals (it did once), so CI would wait instead of failing.
  try {
    await runBothRounds(receiver);
  } finally {
    await receiver.close();
  }
  const task = receiver.spans.find((s) => s.name === 'deploy my-app.example-client');
  assert.ok(task, `the task's span, among: ${receiver.spans.map((s) => `${s.service} ${s.name}`).join(', ')}`);
  const services = new Set(receiver.spans.filter((s) => s.traceId === task.traceId).map((s) => s.service));
  assert.equal([...services].sort(), ['my-app.customer-server.api', 'my-app.example-client']);
});

/** The local runner twice, the second time traced to `receiver`: each run must load the customer and stop cleanly. */
async function runBothRounds(receiver: { url: string }): Promise<void> {
  for (let round = 1; round <= 2; round++) {
    const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    const result = await run('npm', ['run', '--silent', 'infra:local', '--', '--exit-with-tasks'], {
      cwd: project.root,
      env: cleanEnv({ INFRA_LOCAL_PG_URL: adminUrl, ...(round === 2 ? traced : {}) }),
    });
    assert.is(result.code, 0, `round ${round}:\n${result.stdout}\n${result.stderr}`);
    const lines = result.stdout.split('\n');
    // The client's own line, prefixed with its name; the server's too.
    assert.ok(
      lines.some((l) => /^my-app\.example-client\s+\| /.test(l) && l.endsWith(CUSTOMER_LINE)),
      result.stdout,
    );
    assert.ok(
      lines.some((l) => /^my-app\.customer-server\.api \| .*listening on http:\/\/127\.0\.0\.1:/.test(l)),
      result.stdout,
    );
    // Everything it started has stopped.
    assert.ok(result.stdout.includes('my-app.customer-server.api | exited with code 0'), result.stdout);
    // The server's lines are JSON (its output is a pipe), naming the app and the persona.
    for (const line of lines.filter((l) => l.startsWith('my-app.customer-server.api | {')))
      assert.is(JSON.parse(line.slice(line.indexOf('{'))).persona, 'my-app.customer-server.api', line);
  }
}

test("the customer is in the store's own database", async () => {
  const database = localDatabaseName('my_app__customer_server__db', project.buildDir);
  const client = new pg.Client({ connectionString: adminUrl.replace(/\/[^/]*$/, `/${database}`) });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT value::text AS value FROM my_app__customer_server__db WHERE key = $1', [
      '1',
    ]);
    assert.equal(
      rows.map((r) => JSON.parse(r.value)),
      [{ id: '1', name: 'John Doe' }],
    );
  } finally {
    await client.end();
  }
});

test("the README's curl calls reach the API as local processes serve it, as its wire format says", async () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Calling an API from outside the app'));
  const script = /```sh\n([\s\S]*?)```/.exec(section)![1];
  // infra:local's own command, without npm between this test and the runner it stops.
  const runner = spawn(process.execPath, ['--conditions=source', 'src/main.ts'], {
    cwd: project.starter,
    env: cleanEnv({ PERSONA: 'local', INFRA_LOCAL_PG_URL: adminUrl }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => runner.once('exit', resolve));
  let output = '';
  runner.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  runner.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  try {
    for (const started = Date.now(); !/customer-server\.api \| .*listening on/.test(output);) {
      if (runner.exitCode !== null || Date.now() - started > 60_000)
        assert.unreachable(`the API did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const curl = await run('bash', ['-e', '-c', script], { cwd: project.root });
    assert.is(curl.code, 0, curl.stderr);
    assert.is(curl.stdout.trim(), '{"id":"2","name":"Grace"}', curl.stderr);

    // The README's script with the generated client: it type-checks (strict), and runs.
    const program = /```ts\n([\s\S]*?)```/.exec(section)![1];
    writeFileSync(join(project.root, 'call-api.ts'), program);
    const env = Object.fromEntries(
      ['TOKEN', 'PORT'].map((name) => [
        name,
        new RegExp(`^MY_APP__CUSTOMER_SERVER__API__${name}=(.*)$`, 'm').exec(
          readFileSync(join(project.buildDir, 'env', 'every-api.env'), 'utf8'),
        )![1],
      ]),
    );
    const tsc = join(project.root, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--types', 'node'];
    const checked = await run(
      process.execPath,
      [tsc, ...flags, '--ignoreConfig', '--allowImportingTsExtensions', 'call-api.ts'],
      {
        cwd: project.root,
      },
    );
    assert.is(checked.code, 0, checked.stdout + checked.stderr);
    const called = await run(process.execPath, ['call-api.ts'], { cwd: project.root, env: cleanEnv(env) });
    assert.is(called.code, 0, called.stderr);
    // Without the colours console.log gives a number when the runner forces them.
    const [name, refusal] = stripVTControlCharacters(called.stdout).trim().split('\n');
    assert.is(name, 'Lin');
    assert.match(
      refusal ?? '',
      /^400 Invalid argument to my-app\.customer-server\.api \(GET \/api\/customer\): /,
      called.stdout,
    );
  } finally {
    runner.kill('SIGTERM');
    await exited;
  }
});

test('a port taken by another program (another local run of the app) is refused before anything starts', async () => {
  const values = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values;
  const port: number = values['my-app.customer-server.api.port'];
  // What a server of another run would do: answer the health route as this app's API.
  const impostor = createServer((_request, response) =>
    response.end(JSON.stringify({ id: 'my-app.customer-server.api' })),
  );
  // Something else of this machine's on that port fails the test (it needs the port), not the run.
  await new Promise<void>((resolve, reject) =>
    impostor
      .once('error', (err) => reject(new Error(`the test needs port ${port} of 127.0.0.1: ${err.message}`)))
      .listen(port, '127.0.0.1', resolve),
  );
  try {
    const result = await run('npm', ['run', '--silent', 'infra:local', '--', '--exit-with-tasks'], {
      cwd: project.root,
      env: cleanEnv({ INFRA_LOCAL_PG_URL: adminUrl }),
    });
    assert.is(result.code, 1, result.stdout);
    assert.ok(
      result.stderr.includes(`ApiServer my-app.customer-server.api: port ${port} of 127.0.0.1 is already in use`),
      result.stderr,
    );
    assert.not.ok(result.stdout.includes('my-app.example-client'), 'no persona was started');
  } finally {
    await new Promise((resolve) => impostor.close(resolve));
  }
});

test.run();
