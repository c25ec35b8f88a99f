/**
 * Deployed personas as separate processes: the fixture app started with PERSONA and the
 * wiring environment set by hand (what compose or the local runner would set), an API on a
 * free port with its Store in a fresh database on this machine's PostgreSQL, and tasks calling it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from './support/free-port.ts';
import { startPersona, type PersonaProcess } from './support/persona-process.ts';
import { admin } from './support/pg-admin.ts';
import { counterClientEnv, startCounterApi } from './support/counter-fixture.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'deployed-app', 'main.ts');
const token = randomBytes(16).toString('hex');
const database = `deployed_persona_${randomBytes(4).toString('hex')}`;

const start = (persona: string, env: Record<string, string>) => startPersona(fixture, persona, env);

const deployed = suite('deployed persona');
let port: number;
let server: PersonaProcess | undefined;

deployed.before(async () => {
  await admin(`CREATE DATABASE ${database}`);
  port = await freePort();
  server = await startCounterApi(start, port, token, database);
});

deployed.after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

const clientEnv = () => counterClientEnv(port, token);

deployed('a task calls the API, which keeps its count in PostgreSQL; the task exits 0', async () => {
  const client = await start('fixture.client', clientEnv());
  const code = await client.exited;
  assert.is(client.stdout(), 'Counted visits: 5 (read back: 5)\n', client.stderr());
  assert.is(client.stderr(), '');
  assert.is(code, 0);
});

deployed('a failing task exits 1 with its error', async () => {
  const failing = await start('fixture.failing', clientEnv());
  const code = await failing.exited;
  assert.is(code, 1);
  assert.ok(
    failing.stderr().includes('Deploy task fixture.failing failed: Counter locked is locked'),
    failing.stderr(),
  );
});

deployed('a task without the API URL exits 1, naming the persona and the API', async () => {
  const lost = await start('fixture.client', { FIXTURE__COUNTER__API__TOKEN: token });
  assert.is(await lost.exited, 1);
  assert.ok(
    lost
      .stderr()
      .includes(
        'Persona fixture.client does not know where ApiServer fixture.counter.api is (environment variable FIXTURE__COUNTER__API__URL is not set)',
      ),
    lost.stderr(),
  );
});

deployed('an unknown PERSONA lists the known ones and exits 1', async () => {
  const unknown = await start('fixture.nope', {});
  assert.is(await unknown.exited, 1);
  assert.ok(
    unknown
      .stderr()
      .includes(
        'Unknown persona "fixture.nope" (from PERSONA). Known personas: fixture.counter.api, fixture.client, fixture.failing;',
      ),
    unknown.stderr(),
  );
});

deployed(
  'a persona started without a tree fingerprint refuses to run, before serving or calling anything',
  async () => {
    const unchecked = await start('fixture.client', { ...clientEnv(), INFRA_TREE_FINGERPRINT: '', INFRA_TREE: '' });
    assert.is(await unchecked.exited, 1);
    assert.match(
      unchecked.stderr(),
      'Persona fixture.client refuses to run: its environment has no INFRA_TREE_FINGERPRINT',
    );
    assert.is(unchecked.stdout(), '');
  },
);

deployed("a persona whose tree differs from the build's refuses to run", async () => {
  const drifted = await start('fixture.client', {
    ...clientEnv(),
    INFRA_TREE_FINGERPRINT: '0000000000000000',
    INFRA_TREE: JSON.stringify(['Store fixture.gone']),
  });
  assert.is(await drifted.exited, 1);
  assert.ok(
    drifted
      .stderr()
      .includes('Persona fixture.client refuses to run: its component tree differs from the one the build saw'),
    drifted.stderr(),
  );
  assert.is(drifted.stdout(), '');
});

deployed('SIGTERM stops the server, which exits 0', async () => {
  server!.child.kill('SIGTERM');
  assert.is(await server!.exited, 0);
  assert.is(server!.stderr(), '');
});

deployed.run();
