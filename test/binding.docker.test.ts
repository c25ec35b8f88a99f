/**
 * A Store bound to an existing PostgreSQL, in real containers (`npm run test:docker`): the
 * starter built with `--bind-store` to a server outside compose (a cluster of the test's own on
 * this machine, reached through the Docker host's address, with a password that needs
 * encoding), then `docker compose up`: no database container runs, the example client loads
 * its customer and exits 0, and the customer is in the bound database.
 *
 * It builds into a build folder of its own (the repository's starter/build/ keeps no binding)
 * and writes the repository's compose.yaml, as test/docker.test.ts does; afterwards it builds
 * the repository's own build again, so compose.yaml names the env files that remain.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';
import { ThrowawayCluster } from './support/throwaway-cluster.ts';

const project = `infrabound${randomBytes(4).toString('hex')}`;
const buildDir = join(repoRoot, `.tmp-bound-build-${randomBytes(4).toString('hex')}`);
const CLIENT = 'my-app--example-client';
const STORE = 'my-app.customer-server.db';
const PASSWORD = 's3cr@t:/ x';
const MINUTE = 60_000;

const env = () => ({ ...cleanEnv(), INFRA_BUILD_DIR: buildDir });
const compose = (args: string[], timeoutMs = 2 * MINUTE) =>
  run('docker', ['compose', '-p', project, ...args], { cwd: repoRoot, env: env(), timeoutMs });

let cluster: ThrowawayCluster | undefined;

const test = suite('docker: a store bound to an existing PostgreSQL');

test.after(async () => {
  const down = await compose(['down', '-v', '--remove-orphans']);
  if (down.code !== 0) console.error(`docker compose -p ${project} down -v failed:\n${down.stderr}`);
  await cluster?.destroy();
  rmSync(buildDir, { recursive: true, force: true });
  // compose.yaml still names the removed folder's env files: build the repository's own build again.
  const rebuilt = await run('npm', ['run', '--silent', 'infra:build'], { cwd: repoRoot, env: cleanEnv() });
  assert.is(rebuilt.code, 0, `npm run infra:build after the test: ${rebuilt.stdout}${rebuilt.stderr}`);
  const services = Object.values(YAML.parse(readFileSync(join(repoRoot, 'compose.yaml'), 'utf8')).services) as {
    env_file?: string[];
  }[];
  const missing = services.flatMap((s) => s.env_file ?? []).filter((f) => !existsSync(join(repoRoot, f)));
  assert.equal(missing, [], 'compose.yaml names only env files that exist');
});

test('docker compose up with the store bound: no database container, the data in the bound database', async () => {
  // The Docker host's address on the default bridge (docker0): containers on any network reach it.
  // (Node lists only interfaces that are up; docker0 has no carrier while no container runs on it.)
  const address = await run('ip', ['-4', '-o', 'addr', 'show', 'docker0'], { cwd: repoRoot, env: cleanEnv() });
  const host = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(address.stdout)?.[1];
  assert.ok(host, `this machine has a docker0 bridge with an IPv4 address: ${address.stdout}${address.stderr}`);
  cluster = await ThrowawayCluster.create();
  // Docker gives its networks private addresses: 172.16/12 first, then 192.168/16 (and 10/8 where configured).
  cluster.acceptRemote(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
  await cluster.start();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ext LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await admin.query('CREATE DATABASE customers OWNER ext');
  } finally {
    await admin.end();
  }
  const url = `postgres://ext:${encodeURIComponent(PASSWORD)}@${host}:${cluster.port}/customers`;

  const built = await run(
    'npm',
    ['run', '--silent', 'infra:build', '--', '--bind-store', `${STORE}=env:CUSTOMERS_DB_URL`],
    {
      cwd: repoRoot,
      env: { ...env(), CUSTOMERS_DB_URL: url },
    },
  );
  assert.is(built.code, 0, built.stdout + built.stderr);
  assert.match(built.stdout, `Store ${STORE}: bound to postgres://ext:***@${host}:${cluster.port}/customers`);

  const result = await compose(['up', '--build', '--no-color', '--exit-code-from', CLIENT], 15 * MINUTE);
  const clientLine = result.stdout.split('\n').find((l) => l.startsWith(CLIENT) && l.includes('Loaded customer:'));
  assert.ok(
    clientLine?.endsWith('Loaded customer: {"id":"1","name":"John Doe"}'),
    `the client's line, in:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`,
  );
  assert.is(result.code, 0, result.stderr.slice(-4000));

  const services = await compose(['ps', '--services']);
  assert.not.ok(services.stdout.includes('my-app--customer-server--db'), `no database container: ${services.stdout}`);
  const direct = new pg.Client({ connectionString: url.replace(host, '127.0.0.1') });
  await direct.connect();
  try {
    const { rows } = await direct.query(`SELECT value::text AS value FROM my_app__customer_server__db WHERE key = '1'`);
    assert.equal(rows, [{ value: '{"id":"1","name":"John Doe"}' }], 'the customer is in the bound database');
  } finally {
    await direct.end();
  }
});

test.run();
