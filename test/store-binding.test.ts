/**
 * `--bind-store`: a Store bound to an existing PostgreSQL by URL at build time gets no database
 * of its own in compose or Kubernetes, its URL reaches only its owners, the binding is kept
 * across builds until `--unbind-store`, and deployed personas really use the bound database.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  symlinkSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { tempProject, repoRoot, run, type TempProject } from './support/temp-project.ts';
import { buildInto, seedApp, API, CLIENT, DB } from './support/seed-app.ts';
import { startPersona } from './support/persona-process.ts';
import { readEnvFile } from './support/env-file.ts';
import { admin, adminUrl } from './support/pg-admin.ts';
import { bindingRequests, checkStoreUrl } from 'infra-generator/internal/modes/build-persona/store-bindings';
import { redactUrl } from 'infra-generator/internal/resources/databases';

const STORE = 'my-app.customer-server.db';
const BOUND = 'postgres://app:s3cr%40t@customers.db.example.com:6543/customers?sslmode=require';

const read = (path: string) => readFileSync(path, 'utf8');
const compose = (project: TempProject) => YAML.parse(read(join(project.root, 'compose.yaml')));
const envFile = (project: TempProject, service: string) => read(join(project.buildDir, 'env', `${service}.env`));

const test = suite('store binding');

/** buildInto with an environment (the build reads `env:NAME` bindings from it). */
const buildWithEnv = (project: TempProject, env: NodeJS.ProcessEnv, args: string[] = []) =>
  buildInto(seedApp(), project, args, env);

/** The message `fn` throws. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('it did not throw');
}

test('arguments: URL or env:NAME kept as given, each store once; an ID may hold `=`; errors show none of the URL', () => {
  assert.equal(
    [...bindingRequests([`${STORE}=env:CUSTOMERS_URL`], [], {}).bind],
    [[STORE, 'env:CUSTOMERS_URL']],
    'the reference, not the URL, is what is kept',
  );
  assert.equal([...bindingRequests([`${STORE}=${BOUND}`], ['other'], {}).unbind], ['other']);
  assert.equal(
    [...bindingRequests([`my=store=${BOUND}`], [], {}).bind],
    [['my=store', BOUND]],
    'the ID ends at the first `=` a scheme follows',
  );
  assert.throws(
    () => bindingRequests([`${STORE}=env:`], [], {}),
    /--bind-store "my-app\.customer-server\.db=env:" names no variable/,
  );
  assert.throws(
    () => bindingRequests([`${STORE}=${BOUND}`], [STORE], {}),
    /--unbind-store "my-app\.customer-server\.db" is also given to --bind-store/,
  );
  assert.throws(() => bindingRequests([`${STORE}=${BOUND}`, `${STORE}=env:X`], [], {}), /given twice/);
  assert.throws(() => bindingRequests([''], [], {}), /--bind-store needs a value/);

  const noId = thrown(() => bindingRequests(['postgres://app:pa/ss@db.example.com/x'], [], {}));
  assert.match(
    noId,
    /^--bind-store is not understood \(the value is not shown: it may hold a password\): write `--bind-store STORE_ID=postgres:/,
  );
  for (const secret of ['pa/ss', 'db.example.com']) assert.not.ok(noId.includes(secret), noId);
  // A query's `=x:` looks like an ID's end: the part before it is the URL, with its password.
  const query = thrown(() => bindingRequests(['postgres://app:pw@db/x?application_name=app:1'], [], {}));
  assert.match(query, /not shown/);
  assert.not.ok(query.includes('pw@'), query);
  const noUrl = thrown(() => bindingRequests([`${STORE}=customers`], [], {}));
  assert.match(noUrl, /^--bind-store "my-app\.customer-server\.db=…" is not understood/);
  assert.not.ok(noUrl.includes('customers'), noUrl);
});

test('URLs are checked as the Store’s driver (slonik) reads them', () => {
  const refused = (url: string, reason: RegExp) =>
    assert.throws(
      () => checkStoreUrl(STORE, url),
      (err: Error) => reason.test(err.message) && !err.message.includes('s3cr'),
    );
  assert.equal(checkStoreUrl(STORE, BOUND), []);
  assert.equal(checkStoreUrl(STORE, 'postgresql://app@db.example.com/x?sslmode=no-verify&application_name=app'), []);
  assert.equal(
    checkStoreUrl(STORE, 'postgres://app:pw@db.example.com/cust%2Fomers'),
    [],
    'an encoded / is part of the name',
  );
  refused(
    'mysql://app:s3cr@db/x',
    /Store my-app\.customer-server\.db cannot be bound to the URL given: its scheme is mysql, not postgres\. Give a connection URL like .* with `--bind-store my-app\.customer-server\.db=URL`$/,
  );
  refused('postgres://app:s3cr@db.example.com', /names no database/);
  refused('postgres://app:s3cr@db.example.com/', /names no database/);
  refused(
    'postgres://app:s3cr@db.example.com/a/b',
    /names no database \(…\/DATABASE at the end of the path, nothing after it\)/,
  );
  refused('postgres://db.example.com/x', /names no user/);
  refused('not a url', /it is not a URL/);
  refused('postgres://app:s3cr@db.example.com:0/x', /its port is 0/);
  refused('postgres://app:s3cr@[2001:db8::1]/x', /cannot connect to an IPv6 address/);
  for (const mode of ['verify-full', 'verify-ca', 'prefer', 'allow'])
    refused(
      `postgres://app:s3cr@db.example.com/x?sslmode=${mode}`,
      new RegExp(`knows no sslmode=${mode}: use disable, no-verify, require`),
    );
  refused(
    'postgres://db.example.com/x?user=app&password=s3cr',
    /ignores \?user=: put the user and password before the host, postgres:\/\/user:password@host/,
  );
  refused(
    'postgres://app@db.example.com/x?password=s3cr',
    /ignores \?password=: put the user and password before the host/,
  );
  for (const file of ['sslrootcert', 'sslcert', 'sslkey'])
    refused(
      `postgres://app:s3cr@db.example.com/x?${file}=/etc/ssl/x.pem`,
      new RegExp(`\\?${file}= names a file, which the deployed app's image does not contain`),
    );
  refused(
    'postgres://app:s3cr@db.example.com/x?ssl=true',
    /the driver ignores \?ssl=; it reads only application_name, options, sslmode/,
  );
  refused('postgres://app:s3cr@db.example.com/x?host=other', /\?host= is not read/);
  refused('postgres://app:s3cr@db.example.com/x#s3cr', /#… part/);
  assert.match(
    checkStoreUrl(STORE, 'postgres://app@127.0.0.1/x').join(),
    /inside a container or pod that is the container itself/,
  );
});

test('redactUrl masks the password and every query value that may hold a secret', () => {
  assert.is(
    redactUrl(
      'postgres://app:s3cr@db.example.com:6543/x?sslmode=require&password=pw2&sslpassword=pw3&application_name=app#frag',
    ),
    'postgres://app:***@db.example.com:6543/x?sslmode=require&password=***&sslpassword=***&application_name=app',
  );
  assert.is(redactUrl('postgres://app:pa/ss@db/x'), '(an invalid URL)');
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
    assert.match(
      bound.output,
      `Store ${STORE}: bound to postgres://app:***@customers.db.example.com:6543/customers?sslmode=require`,
    );
    assert.not.ok(bound.output.includes('s3cr'), 'the password is not printed');
    assert.match(bound.output, `Removed starter/build/env/${DB}.env (its service is gone)`);
    const file = compose(project);
    assert.equal(Object.keys(file.services).sort(), [API, CLIENT].sort());
    assert.is(file.volumes, undefined);
    assert.not.ok(Object.keys(file.networks).some((n) => n.startsWith(DB)));
    assert.is(file.services[API].depends_on, undefined);
    assert.not.ok(
      read(join(project.root, 'compose.yaml')).includes('customers.db.example.com'),
      'the URL is a secret: env files only',
    );
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

test('env:NAME: only the name is kept and the URL is read at every build; a build without the variable fails', async () => {
  const project = tempProject();
  try {
    const values = join(project.buildDir, 'values.json');
    const bound = await buildWithEnv(project, { CUSTOMERS_URL: BOUND }, ['--bind-store', `${STORE}=env:CUSTOMERS_URL`]);
    assert.is(bound.code, 0, bound.output);
    assert.match(
      bound.output,
      `Store ${STORE}: bound to postgres://app:***@customers.db.example.com:6543/customers?sslmode=require (no database of its own, read from CUSTOMERS_URL at every build;`,
    );
    assert.equal(JSON.parse(read(values)).bindings, { [STORE]: 'env:CUSTOMERS_URL' });
    assert.not.ok(
      read(values).includes('customers.db.example.com'),
      'neither the URL nor its password is in values.json',
    );
    assert.match(envFile(project, API), `MY_APP__CUSTOMER_SERVER__DB__URL=${BOUND}`);

    // A rotated password: the next build, without the flag, writes the new URL.
    const rotated = BOUND.replace('s3cr%40t', 'n3w');
    const again = await buildWithEnv(project, { CUSTOMERS_URL: rotated });
    assert.is(again.code, 0, again.output);
    assert.match(envFile(project, API), `MY_APP__CUSTOMER_SERVER__DB__URL=${rotated}`);

    const unset = await buildWithEnv(project, {});
    assert.is(unset.code, 1, unset.output);
    assert.match(
      unset.output,
      `Store ${STORE} is bound to the URL in the environment variable CUSTOMERS_URL, which is not set or empty in this build (the variable is read at every build; only its name is kept). ` +
        `Set it, e.g. \`CUSTOMERS_URL=postgres://… npm run infra:build\`, or remove the binding with \`npm run infra:build -- --unbind-store ${STORE}\``,
    );
    assert.match(envFile(project, API), rotated, 'a failed build writes nothing');

    // Its URL is checked at every build too.
    const invalid = await buildWithEnv(project, { CUSTOMERS_URL: `${BOUND.replace('require', 'verify-full')}` });
    assert.is(invalid.code, 1, invalid.output);
    assert.match(
      invalid.output,
      `Store ${STORE} cannot be bound to the URL in CUSTOMERS_URL: the driver knows no sslmode=verify-full`,
    );
    assert.not.ok(invalid.output.includes('s3cr'), 'the password is not printed');
  } finally {
    project.remove();
  }
});

test('kept bindings: checked at every build; one of a Store no longer in the code is reported and can be removed', async () => {
  const project = tempProject();
  try {
    const values = join(project.buildDir, 'values.json');
    const first = await buildInto(seedApp(), project, ['--bind-store', `${STORE}=${BOUND}`]);
    assert.is(first.code, 0, first.output);
    const file = JSON.parse(read(values));

    // As an older version may have kept it: a URL the driver would refuse, bound without any flag now.
    writeFileSync(
      values,
      JSON.stringify({ ...file, bindings: { [STORE]: 'postgres://db.example.com/x?user=app&password=s3cr' } }),
      { mode: 0o600 },
    );
    const kept = await buildInto(seedApp(), project);
    assert.is(kept.code, 1, kept.output);
    assert.match(
      kept.output,
      `Store ${STORE} cannot be bound to the URL kept in values.json: the driver ignores ?user=: put the user and password before the host`,
    );
    assert.match(kept.output, `or remove the binding with \`npm run infra:build -- --unbind-store ${STORE}\``);
    assert.not.ok(kept.output.includes('s3cr'), 'the password is not printed');

    const gone = 'my-app.old-server.db';
    writeFileSync(
      values,
      JSON.stringify({
        ...file,
        bindings: { [STORE]: BOUND, [gone]: 'postgres://app:0ld@old.example.com/old?password=0ld' },
      }),
      { mode: 0o600 },
    );
    const stale = await buildInto(seedApp(), project);
    assert.is(stale.code, 0, stale.output);
    assert.match(
      stale.output,
      `Warning: Store ${gone} is no longer in the code, but values.json still binds it to postgres://app:***@old.example.com/old?password=*** (kept in case it comes back). \`npm run infra:build -- --unbind-store ${gone}\` removes the binding`,
    );
    assert.not.ok(stale.output.includes('0ld'), 'the password is not printed');

    const unbound = await buildInto(seedApp(), project, ['--unbind-store', gone]);
    assert.is(unbound.code, 0, unbound.output);
    assert.match(unbound.output, `Store ${gone} (no longer in the code) is no longer bound`);
    assert.equal(JSON.parse(read(values)).bindings, { [STORE]: BOUND });
    assert.not.ok(unbound.output.includes(`Store ${gone} is no longer in the code`));

    const unknown = await buildInto(seedApp(), project, ['--unbind-store', gone]);
    assert.is(unknown.code, 1, unknown.output);
    assert.match(unknown.output, `There is no Store ${gone} in the component tree`);
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
    assert.equal(
      objects.filter((o) => o.kind === 'StatefulSet'),
      [],
    );
    assert.not.ok(objects.some((o) => o.metadata.name === DB));
    const secret = (name: string) => objects.find((o) => o.kind === 'Secret' && o.metadata.name === name).stringData;
    assert.is(secret(API).MY_APP__CUSTOMER_SERVER__DB__URL, BOUND);
    assert.not.ok(JSON.stringify(secret(CLIENT)).includes('customers.db.example.com'));
    const egress = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${API}--egress`).spec.egress;
    assert.equal(egress, [
      {
        to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }],
        ports: [{ protocol: 'TCP', port: 6543 }],
      },
    ]);
    assert.not.ok(objects.some((o) => o.kind === 'NetworkPolicy' && o.metadata.name.includes(`--to--${DB}`)));

    // An IP in the URL narrows the policy to that address.
    const ip = await buildInto(seedApp(), project, [
      '--target',
      'kubernetes',
      '--bind-store',
      `${STORE}=postgres://app:pw@10.1.2.3/customers`,
    ]);
    assert.is(ip.code, 0, ip.output);
    const policies = YAML.parseAllDocuments(read(join(folder, 'network-policies.yaml'))).map((d) => d.toJSON());
    assert.equal(policies.find((o) => o.metadata.name === `${API}--egress`).spec.egress, [
      { to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] },
    ]);
  } finally {
    project.remove();
  }
});

test('deployed personas use the bound database: the env the build wrote, the data in that database', async () => {
  // The fixture app in a project of its own (the build keeps the entry inside the project root).
  const root = mkdtempSync(join(tmpdir(), 'infra-binding-'));
  const fixture = join(root, 'app', 'main.ts');
  mkdirSync(join(root, 'app'));
  for (const file of ['main.ts', 'app.ts'])
    copyFileSync(join(import.meta.dirname, 'fixtures', 'deployed-app', file), join(root, 'app', file));
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const database = `bound_store_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  await admin(`CREATE DATABASE ${database}`);
  const started: Awaited<ReturnType<typeof startPersona>>[] = [];
  try {
    const buildEnv = {
      ...process.env,
      PERSONA: 'build',
      INFRA_BUILD_DIR: join(root, 'build'),
      INFRA_PROJECT_ROOT: root,
    };
    const build = await run(
      process.execPath,
      ['--conditions=source', fixture, '--bind-store', `fixture.counter.db=env:COUNTER_DB`],
      {
        cwd: root,
        env: { ...buildEnv, COUNTER_DB: url.toString() },
      },
    );
    assert.is(build.code, 0, build.stdout + build.stderr);
    const services = YAML.parse(read(join(root, 'compose.yaml'))).services;
    assert.not.ok(services['fixture--counter--db']);
    // Each persona's environment as compose would give it, with the hosts of this machine.
    const envOf = (service: string): Record<string, string> => {
      const fromFile = readEnvFile(join(root, 'build', 'env', `${service}.env`));
      const all: Record<string, string> = { ...services[service].environment, ...fromFile };
      for (const [k, v] of Object.entries(all))
        all[k] = v.replace('http://fixture--counter--api:', 'http://127.0.0.1:');
      return { ...all, INFRA_LISTEN_HOST: '127.0.0.1' };
    };
    const apiEnv = envOf('fixture--counter--api');
    assert.is(apiEnv.FIXTURE__COUNTER__DB__URL, url.toString());
    const api = await startPersona(fixture, 'fixture.counter.api', apiEnv);
    started.push(api);
    await api.waitFor(`listening on http://127.0.0.1:${apiEnv.FIXTURE__COUNTER__API__PORT}`);
    const client = await startPersona(fixture, 'fixture.client', envOf('fixture--client'));
    started.push(client);
    assert.is(await client.exited, 0, client.stderr());
    assert.is(client.stdout(), 'Counted visits: 5 (read back: 5)\n');
    const direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
    try {
      const { rows } = await direct.query(
        `SELECT value::text AS value FROM "fixture__counter__db" WHERE key = 'visits'`,
      );
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
