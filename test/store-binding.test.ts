/**
 * `--bind-store`: a Store bound to an existing PostgreSQL by URL at build time gets no database
 * of its own in compose or Kubernetes, its URL reaches only its owners, the binding is kept
 * across builds until `--unbind-store`, and deployed personas really use the bound database.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { tempProject, repoRoot, run, type TempProject } from './support/temp-project.ts';
import { buildInto, seedApp } from './support/seed-app.ts';
import { startPersona } from './support/persona-process.ts';
import { admin, adminUrl } from './support/pg-admin.ts';
import { bindingRequests, checkStoreUrl } from '../runtime/src/build/store-bindings.ts';

const STORE = 'my-app.customer-server.db';
const DB = 'my-app--customer-server--db';
const API = 'my-app--customer-server--api';
const CLIENT = 'my-app--example-client';
const BOUND = 'postgres://app:s3cr%40t@customers.db.example.com:6543/customers?sslmode=require';

const read = (path: string) => readFileSync(path, 'utf8');
const compose = (project: TempProject) => YAML.parse(read(join(project.root, 'compose.yaml')));
const envFile = (project: TempProject, service: string) => read(join(project.buildDir, 'env', `${service}.env`));

const test = suite('store binding');

test('arguments: URL or env:NAME, each store once; URLs must name a postgres host and database', () => {
  const env = { CUSTOMERS_URL: BOUND };
  assert.equal([...bindingRequests([`${STORE}=env:CUSTOMERS_URL`], [], env).bind], [[STORE, BOUND]]);
  assert.equal([...bindingRequests([`${STORE}=${BOUND}`], ['other'], {}).unbind], ['other']);
  assert.throws(() => bindingRequests([`${STORE}=env:NOPE`], [], env), /Store my-app\.customer-server\.db is to be bound to the URL in the environment variable NOPE, which is not set/);
  assert.throws(() => bindingRequests([BOUND], [], {}), /--bind-store "postgres:\/\/app:\*\*\*@customers.*" is not understood: write `--bind-store STORE_ID=postgres:/);
  assert.throws(() => bindingRequests([`${STORE}=customers`], [], {}), /not understood/);
  assert.throws(() => bindingRequests([`${STORE}=${BOUND}`], [STORE], {}), /--unbind-store .*also given to --bind-store/);
  assert.equal(checkStoreUrl(STORE, BOUND), []);
  assert.throws(() => checkStoreUrl(STORE, 'mysql://db/x'), /Store my-app\.customer-server\.db cannot be bound to that URL: its scheme is mysql, not postgres/);
  assert.throws(() => checkStoreUrl(STORE, 'postgres://db.example.com'), /names no database/);
  assert.throws(() => checkStoreUrl(STORE, 'not a url'), /it is not a URL/);
  assert.match(checkStoreUrl(STORE, 'postgres://127.0.0.1/x').join(), /inside a container or pod that is the container itself/);
});

test('compose: no database service, volume, network or env file; the URL in the owners’ env files only; kept until unbound', async () => {
  const project = tempProject();
  try {
    const unknown = await buildInto(seedApp(), project, ['--bind-store', `my-app.nope=${BOUND}`]);
    assert.is(unknown.code, 1);
    assert.match(unknown.output, `There is no Store my-app.nope in the component tree. Its Stores are: ${STORE}`);
    assert.not.ok(existsSync(join(project.root, 'compose.yaml')), 'a refused build writes nothing');

    const first = await buildInto(seedApp(), project);
    assert.is(first.code, 0, first.output);
    assert.ok(compose(project).services[DB]);

    const bound = await buildInto(seedApp(), project, ['--bind-store', `${STORE}=${BOUND}`]);
    assert.is(bound.code, 0, bound.output);
    assert.match(bound.output, `Store ${STORE}: bound to postgres://app:***@customers.db.example.com:6543/customers?sslmode=require`);
    assert.not.ok(bound.output.includes('s3cr'), 'the password is not printed');
    assert.match(bound.output, `Removed starter/build/env/${DB}.env (its service is gone)`);
    const file = compose(project);
    assert.equal(Object.keys(file.services).sort(), [API, CLIENT].sort());
    assert.is(file.volumes, undefined);
    assert.not.ok(Object.keys(file.networks).some((n) => n.startsWith(DB)));
    assert.is(file.services[API].depends_on, undefined);
    assert.not.ok(read(join(project.root, 'compose.yaml')).includes('customers.db.example.com'), 'the URL is a secret: env files only');
    assert.match(envFile(project, API), `MY_APP__CUSTOMER_SERVER__DB__URL=${BOUND}`);
    assert.not.ok(envFile(project, CLIENT).includes('customers.db.example.com'));
    const values = join(project.buildDir, 'values.json');
    assert.equal(JSON.parse(read(values)).bindings, { [STORE]: BOUND });
    assert.is(statSync(values).mode & 0o777, 0o600);

    // A later build without the flag keeps the binding: the app must not move to an empty database.
    const again = await buildInto(seedApp(), project);
    assert.is(again.code, 0, again.output);
    assert.match(again.output, `Store ${STORE}: bound to`);
    assert.not.ok(compose(project).services[DB]);

    const unbound = await buildInto(seedApp(), project, ['--unbind-store', STORE]);
    assert.is(unbound.code, 0, unbound.output);
    assert.match(unbound.output, `Warning: Store ${STORE} is no longer bound: it gets its own database again`);
    assert.ok(compose(project).services[DB]);
    assert.match(envFile(project, API), `@${DB}:5432/`);
    assert.is(JSON.parse(read(values)).bindings, undefined);
  } finally {
    project.remove();
  }
});

test('kubernetes: no StatefulSet, Service or Secret for a bound store; its owners may reach its port outside the cluster', async () => {
  const project = tempProject();
  try {
    const folder = join(project.buildDir, 'kubernetes');
    const own = await buildInto(seedApp(), project, ['--target', 'kubernetes']);
    assert.is(own.code, 0, own.output);
    assert.ok(readdirSync(folder).includes(`${DB}.yaml`));

    const bound = await buildInto(seedApp(), project, ['--target', 'kubernetes', `--bind-store=${STORE}=${BOUND}`]);
    assert.is(bound.code, 0, bound.output);
    assert.match(bound.output, `Removed starter/build/kubernetes/${DB}.yaml (its service is gone)`);
    assert.not.ok(readdirSync(folder).includes(`${DB}.yaml`));
    const kustomization = YAML.parse(read(join(folder, 'kustomization.yaml')));
    assert.not.ok(kustomization.resources.includes(`${DB}.yaml`));
    const objects = readdirSync(folder)
      .filter((f) => f !== 'kustomization.yaml')
      .flatMap((f) => YAML.parseAllDocuments(read(join(folder, f))).map((d) => d.toJSON()));
    assert.equal(objects.filter((o) => o.kind === 'StatefulSet'), []);
    assert.not.ok(objects.some((o) => o.metadata.name === DB));
    const secret = (name: string) => objects.find((o) => o.kind === 'Secret' && o.metadata.name === name).stringData;
    assert.is(secret(API).MY_APP__CUSTOMER_SERVER__DB__URL, BOUND);
    assert.not.ok(JSON.stringify(secret(CLIENT)).includes('customers.db.example.com'));
    const egress = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${API}--egress`).spec.egress;
    assert.equal(egress, [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 6543 }] }]);
    assert.not.ok(objects.some((o) => o.kind === 'NetworkPolicy' && o.metadata.name.includes(`--to--${DB}`)));

    // An IP in the URL narrows the policy to that address.
    const ip = await buildInto(seedApp(), project, ['--target', 'kubernetes', '--bind-store', `${STORE}=postgres://app:pw@10.1.2.3/customers`]);
    assert.is(ip.code, 0, ip.output);
    const policies = YAML.parseAllDocuments(read(join(folder, 'network-policies.yaml'))).map((d) => d.toJSON());
    assert.equal(policies.find((o) => o.metadata.name === `${API}--egress`).spec.egress, [{ to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
  } finally {
    project.remove();
  }
});

test('deployed personas use the bound database: the env the build wrote, the data in that database', async () => {
  // The fixture app in a project of its own (the build keeps the entry inside the project root).
  const root = mkdtempSync(join(tmpdir(), 'infra-binding-'));
  const fixture = join(root, 'app', 'main.ts');
  mkdirSync(join(root, 'app'));
  copyFileSync(join(import.meta.dirname, 'fixtures', 'deployed-app', 'main.ts'), fixture);
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const database = `bound_store_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  await admin(`CREATE DATABASE ${database}`);
  const started: ReturnType<typeof startPersona>[] = [];
  try {
    const buildEnv = { ...process.env, PERSONA: 'build', INFRA_BUILD_DIR: join(root, 'build'), INFRA_PROJECT_ROOT: root };
    const build = await run(process.execPath, ['--conditions=source', fixture, '--bind-store', `fixture.counter.db=env:COUNTER_DB`], {
      cwd: root,
      env: { ...buildEnv, COUNTER_DB: url.toString() },
    });
    assert.is(build.code, 0, build.stdout + build.stderr);
    const services = YAML.parse(read(join(root, 'compose.yaml'))).services;
    assert.not.ok(services['fixture--counter--db']);
    // Each persona's environment as compose would give it, with the hosts of this machine.
    const envOf = (service: string): Record<string, string> => {
      const fromFile = Object.fromEntries(
        read(join(root, 'build', 'env', `${service}.env`))
          .split('\n')
          .filter((l) => /^[A-Z]/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^'(.*)'$/, '$1')]),
      );
      const all: Record<string, string> = { ...services[service].environment, ...fromFile };
      for (const [k, v] of Object.entries(all)) all[k] = v.replace('http://fixture--counter--api:', 'http://127.0.0.1:');
      return { ...all, INFRA_LISTEN_HOST: '127.0.0.1' };
    };
    const apiEnv = envOf('fixture--counter--api');
    assert.is(apiEnv.FIXTURE__COUNTER__DB__URL, url.toString());
    const api = startPersona(fixture, 'fixture.counter.api', apiEnv);
    started.push(api);
    await api.waitFor(`listening on http://127.0.0.1:${apiEnv.FIXTURE__COUNTER__API__PORT}`);
    const client = startPersona(fixture, 'fixture.client', envOf('fixture--client'));
    started.push(client);
    assert.is(await client.exited, 0, client.stderr());
    assert.is(client.stdout(), 'Counted visits: 5 (read back: 5)\n');
    const direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
    try {
      const { rows } = await direct.query(`SELECT value::text AS value FROM "fixture__counter__db" WHERE key = 'visits'`);
      assert.equal(rows, [{ value: '5' }], 'the count is in the bound database');
    } finally {
      await direct.end();
    }
  } finally {
    for (const p of started) await p.kill();
    rmSync(root, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});

test.run();
