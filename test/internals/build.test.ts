/**
 * The build persona's outputs, for apps built in this process into a temporary project:
 * compose.yaml (structure, Compose schema, docker-compose v1.29's own check), the env files
 * (0600, secrets only where allowed), the Dockerfile, .dockerignore, values kept across builds,
 * and nothing written for an invalid tree.
 */
import { API, CLIENT, DB } from '../support/seed-app.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { shopApp } from '../support/shop-app.ts';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { Ajv } from 'ajv';
import {
  ApiServer,
  BuildTimeValue,
  Component,
  ID,
  onDeploy,
  rootId,
  runPersona,
  Store,
  Subscription,
  Topic,
  Worker,
} from 'infra-generator';
import type { AppPaths } from 'infra-generator/internal/core/paths';
import type { ComposeFile } from 'infra-generator/internal/targets/compose/compose';
import { envFileText } from 'infra-generator/internal/targets/compose/env-files';

const composeSchemaPath = join(import.meta.dirname, '..', 'fixtures', 'compose-spec', 'compose-spec.json');

interface Fixture {
  root: string;
  paths: AppPaths;
  remove(): void;
}

/** A temporary npm workspace project like this repository's: a runtime package and an app package. */
function fixtureProject(): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'infra-build-'));
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('package.json', JSON.stringify({ name: 'fixture', private: true, workspaces: ['runtime', 'app'] }));
  write('package-lock.json', '{}');
  write('runtime/package.json', JSON.stringify({ name: 'infra-generator' }));
  write('runtime/tsconfig.json', JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'dist' } }));
  write('app/package.json', JSON.stringify({ name: 'app' }));
  write(
    'app/tsconfig.json',
    '{\n  // the app compiles to dist/\n  "compilerOptions": { "rootDir": "src", "outDir": "dist", },\n}\n',
  );
  write('app/src/main.ts', '// the entry module (not run: the tests build apps defined in the test)\n');
  const appDir = join(root, 'app');
  return {
    root,
    paths: { entry: join(appDir, 'src', 'main.ts'), appDir, buildDir: join(appDir, 'build'), projectRoot: root },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The seed's example: a customer server with its own store, and a client task that calls it. */
function seedApp(): ID {
  const id = rootId('my-app');
  const server = id`customer-server`;
  const db = new Store<{ id: string; name: string }>(server`db`);
  const api = new ApiServer(server`api`);
  const post = api.defineEndpoint('/api/customer', async (c: { id: string; name: string }) => db.set(c.id, c), {
    method: 'POST',
  });
  const get = api.defineEndpoint('/api/customer', async (key: string) => db.get(key), { method: 'GET' });
  onDeploy(id`example-client`, async () => {
    await post({ id: '1', name: 'John Doe' });
    console.log(await get('1'));
  });
  return id;
}

async function build(root: ID, fixture: Fixture, args: string[] = []): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const log = {
    info: (m: string) => lines.push(m),
    error: (m: string, e?: unknown) => lines.push(e === undefined ? m : `${m} ${String(e)}`),
  };
  const code = await runPersona({ root, persona: 'build', paths: fixture.paths, args, log, setExitCode: false });
  return { code, output: lines.join('\n') };
}

const read = (path: string) => readFileSync(path, 'utf8');
const mode = (path: string) => statSync(path).mode & 0o777;
const values = (f: Fixture) =>
  JSON.parse(read(join(f.paths.buildDir, 'values.json'))).values as Record<string, unknown>;
const compose = (f: Fixture) => YAML.parse(read(join(f.root, 'compose.yaml'))) as ComposeFile;
const envFile = (f: Fixture, service: string) => join(f.paths.buildDir, 'env', `${service}.env`);

const test = suite('build');

/**
 * Runs compose's `healthcheck.test` (`['CMD', 'bash', '-c', script]`, as written, `$` doubled)
 * here, against a server on this machine that answers GET /healthz with `answer`, closes every
 * connection unanswered (`closed`), or never answers (`silent`; killed after 8 s, as compose's
 * timeout would). The script's port becomes the test server's, its file that remembers a pass
 * `passedFile`, and its steady sleep 1 s. Resolves to its exit code (or `timeout`), how long it
 * took, and the requests the server got.
 */
async function runHealthcheck(
  check: string[],
  port: number,
  answer: 200 | 503 | 'closed' | 'silent',
  passedFile: string,
): Promise<{ code: number | 'timeout'; ms: number; requests: string[] }> {
  const { createServer } = await import('node:http');
  const { execFile } = await import('node:child_process');
  const { STEADY_SECONDS } = await import('infra-generator/internal/targets/compose/healthchecks');
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url} ${request.headers.host}`);
    if (answer === 'closed') return void request.socket.destroy();
    if (answer === 'silent') return;
    response.writeHead(answer).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: serverPort } = server.address() as { port: number };
  // Compose reads `$$` as `$`: the file must hold every `$` of the script doubled.
  assert.not.match(check[3].replaceAll('$$', ''), /\$/, 'every $ doubled for compose');
  const script = check[3]
    .replaceAll('$$', '$')
    .replaceAll(String(port), String(serverPort))
    .replaceAll('/tmp/.infra-healthcheck-passed', passedFile)
    .replace(`sleep ${STEADY_SECONDS}`, 'sleep 1');
  const started = performance.now();
  const code = await new Promise<number | 'timeout'>((resolve) => {
    const child = execFile(check[1], [check[2], script], { timeout: 8000 }, (err) =>
      resolve(err?.killed ? 'timeout' : ((err?.code as number | undefined) ?? 0)),
    );
    child.stdin?.end();
  });
  const ms = performance.now() - started;
  server.closeAllConnections();
  server.close();
  return { code, ms, requests };
}

/**
 * What a check does over a container's life: quick until it first passes, then steady (it
 * sleeps before asking), failing on anything but a 200; without a place to remember a pass, quick.
 */
async function checkLife(check: string[], port: number): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'infra-healthcheck-'));
  const passedFile = join(folder, 'passed');
  try {
    for (const answer of [503, 'closed'] as const) {
      const r = await runHealthcheck(check, port, answer, passedFile);
      assert.is(r.code, 1, `starting, ${answer}`);
      assert.ok(r.ms < 900, `starting, ${answer}: no sleep (${r.ms} ms)`);
      assert.equal(r.requests, [`GET /healthz 127.0.0.1:${(r.requests[0] ?? '').split(':').at(-1)}`]);
    }
    assert.is(existsSync(passedFile), false, 'no pass yet, nothing remembered');
    const first = await runHealthcheck(check, port, 200, passedFile);
    assert.is(first.code, 0, 'the first pass');
    assert.ok(first.ms < 900, `the first pass: no sleep (${first.ms} ms)`);
    const steady = await runHealthcheck(check, port, 200, passedFile);
    assert.is(steady.code, 0, 'steady, 200');
    assert.ok(steady.ms >= 1000, `steady: it slept first (${steady.ms} ms)`);
    assert.is((await runHealthcheck(check, port, 503, passedFile)).code, 1, 'steady, 503');
    // A failure forgets the pass: the next checks are quick again, so a dead service is seen soon.
    const afterFailure = await runHealthcheck(check, port, 503, passedFile);
    assert.ok(afterFailure.ms < 900, `after a failure: no sleep (${afterFailure.ms} ms)`);
    assert.ok((await runHealthcheck(check, port, 200, passedFile)).ms < 900, 'the pass after a failure: no sleep');
    assert.ok((await runHealthcheck(check, port, 200, passedFile)).ms >= 1000, 'then steady again');
    // Another start of the container (its first process started at another time): quick again.
    writeFileSync(passedFile, '1\n');
    assert.ok((await runHealthcheck(check, port, 200, passedFile)).ms < 900, 'after a restart: no sleep');
    const silent = await runHealthcheck(check, port, 'silent', join(folder, 'other'));
    assert.ok(silent.code === 1 || silent.code === 'timeout', `silent: ${silent.code}`);
    const unwritable = join(folder, 'missing-folder', 'passed');
    for (let i = 0; i < 2; i++) {
      const r = await runHealthcheck(check, port, 200, unwritable);
      assert.is(r.code, 0, 'a pass it cannot remember is still a pass');
      assert.ok(r.ms < 900, `nothing remembered: no sleep (${r.ms} ms)`);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

test('the seed example: one postgres service per store, one app image for every persona', async () => {
  const f = fixtureProject();
  try {
    const { code, output } = await build(seedApp(), f);
    assert.is(code, 0, output);
    const file = compose(f);
    assert.equal(Object.keys(file.services).sort(), [API, DB, CLIENT].sort());

    const db = file.services[DB];
    assert.is(db.image, 'postgres:17-bookworm');
    assert.equal(db.volumes, [`${DB}-data:/var/lib/postgresql/data`]);
    assert.ok(file.volumes && `${DB}-data` in file.volumes);
    // Over TCP, which a first start's temporary server (Unix socket only) cannot answer.
    assert.equal(db.healthcheck!.test.slice(0, 3), ['CMD', 'bash', '-c']);
    assert.match(
      db.healthcheck!.test[3],
      /^pg_isready -h 127\.0\.0\.1 -p 5432 -U app -d my_app__customer_server__db -t 5 -q \|\| \{ rm -f /m,
    );
    assert.is(db.ports, undefined, 'the database publishes no port');
    assert.is(db.environment.POSTGRES_PASSWORD, undefined, 'the password is not inlined');
    assert.equal(db.networks, [`${DB}-net`]);
    assert.equal(file.networks![`${DB}-net`], { internal: true });

    const api = file.services[API];
    const client = file.services[CLIENT];
    // One image, the same build, for every persona.
    assert.is(api.image, 'my-app-app:latest');
    assert.is(client.image, api.image);
    assert.equal(client.build, api.build);
    assert.equal(api.build, { context: '.', dockerfile: 'app/build/Dockerfile' });
    assert.is(api.init, true);
    assert.is(client.init, true);

    assert.is(api.restart, 'unless-stopped');
    assert.is(client.restart, 'no');
    assert.ok(/restart: "no"/.test(read(join(f.root, 'compose.yaml'))), 'quoted, so YAML 1.1 readers see a string');
    assert.equal(api.depends_on, { [DB]: { condition: 'service_healthy' } });
    assert.equal(client.depends_on, { [API]: { condition: 'service_healthy' } });
    // No JavaScript runtime started every 2 s: bash asks the health route itself.
    assert.equal(api.healthcheck!.test.slice(0, 3), ['CMD', 'bash', '-c']);
    const apiPort = values(f)['my-app.customer-server.api.port'] as number;
    await checkLife(api.healthcheck!.test, apiPort);
    assert.is(client.healthcheck, undefined);

    // Only the API's owner subtree reaches the database's network.
    assert.ok(api.networks!.includes(`${DB}-net`));
    assert.not.ok(client.networks!.includes(`${DB}-net`));
    // The client declares no `uses`: it may call every API, over the network all APIs join.
    assert.equal(client.networks, ['every-api']);
    assert.ok(api.networks!.includes('every-api'));

    const port = values(f)['my-app.customer-server.api.port'];
    assert.is(api.environment.PERSONA, 'my-app.customer-server.api');
    assert.is(client.environment.PERSONA, 'my-app.example-client');
    assert.is(api.environment.INFRA_LISTEN_HOST, '0.0.0.0');
    assert.is(api.environment.MY_APP__CUSTOMER_SERVER__API__PORT, String(port));
    // What every persona that may call every API needs, once: the APIs' URLs, tokens and ports.
    assert.equal(client.env_file, ['app/build/env/every-api.env', `app/build/env/${CLIENT}.env`]);
    assert.equal(api.env_file, ['app/build/env/every-api.env', `app/build/env/${API}.env`]);
    const shared = read(envFile(f, 'every-api'));
    assert.ok(shared.includes(`MY_APP__CUSTOMER_SERVER__API__URL=http://${API}:${port}\n`), shared);
    assert.ok(shared.includes('MY_APP__CUSTOMER_SERVER__API__TOKEN='));
    assert.is(client.environment.MY_APP__CUSTOMER_SERVER__API__URL, undefined, 'not once per persona');
    assert.not.ok(read(envFile(f, CLIENT)).includes('__TOKEN='));
    assert.is(statSync(envFile(f, 'every-api')).mode & 0o777, 0o600);
    assert.ok(/^[0-9a-f]{16}$/.test(client.environment.INFRA_TREE_FINGERPRINT));

    assert.ok(output.includes('Component tree of my-app'), output);
    assert.ok(output.includes('api  ApiServer'), output);
    for (const written of ['compose.yaml', '.dockerignore', 'app/build/Dockerfile', `app/build/env/${CLIENT}.env`]) {
      assert.ok(output.includes(`Wrote ${written}`), `${written} in:\n${output}`);
    }
  } finally {
    f.remove();
  }
});

test('secrets: only in 0600 env files, and the database password only where the store may be used', async () => {
  const f = fixtureProject();
  try {
    assert.is((await build(seedApp(), f)).code, 0);
    const v = values(f);
    const password = v['my-app.customer-server.db.password'] as string;
    const token = v['my-app.customer-server.api.token'] as string;
    assert.ok(password.length >= 32 && token.length >= 32);

    const composeText = read(join(f.root, 'compose.yaml'));
    assert.not.ok(composeText.includes(password), 'no password in compose.yaml');
    assert.not.ok(composeText.includes(token), 'no token in compose.yaml');

    for (const service of [DB, API, CLIENT]) assert.is(mode(envFile(f, service)), 0o600, service);
    assert.is(mode(join(f.paths.buildDir, 'values.json')), 0o600);

    assert.ok(read(envFile(f, DB)).includes(`POSTGRES_PASSWORD=${password}\n`));
    const apiEnv = read(envFile(f, API));
    assert.ok(
      apiEnv.includes(
        `MY_APP__CUSTOMER_SERVER__DB__URL=postgres://app:${password}@${DB}:5432/my_app__customer_server__db\n`,
      ),
      apiEnv,
    );
    assert.ok(apiEnv.includes(`MY_APP__CUSTOMER_SERVER__API__TOKEN=${token}\n`));

    const clientEnv = read(envFile(f, CLIENT));
    assert.not.ok(clientEnv.includes(password), 'the client never gets the database password');
    assert.not.ok(clientEnv.includes('DB__URL'), 'nor the database URL');
    assert.ok(
      read(envFile(f, 'every-api')).includes(`MY_APP__CUSTOMER_SERVER__API__TOKEN=${token}\n`),
      'it may call the API',
    );
    assert.ok(
      (compose(f).services[CLIENT].env_file ?? []).some((p: string) => p.endsWith('/every-api.env')),
      'through the shared env file',
    );
    assert.not.ok(read(envFile(f, 'every-api')).includes(password), 'which has no database password');

    const dockerfile = read(join(f.paths.buildDir, 'Dockerfile'));
    assert.not.ok(dockerfile.includes(password) || dockerfile.includes(token), 'no secret in the Dockerfile');
  } finally {
    f.remove();
  }
});

test('the compose file validates against the Compose Specification schema', async () => {
  const f = fixtureProject();
  try {
    assert.is((await build(seedApp(), f)).code, 0);
    const schema = JSON.parse(read(composeSchemaPath));
    delete schema.$schema; // draft-07, which Ajv's default class implements; its URL form is not registered
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    const ok = validate(compose(f));
    assert.ok(ok, JSON.stringify(validate.errors, null, 2));

    // The schema does catch a wrong field, so passing means something.
    const broken = compose(f) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services[API].restart_policy = 'always';
    assert.not.ok(validate(broken));
  } finally {
    f.remove();
  }
});

test('docker-compose (v1.29) accepts the file and reads the env files back unchanged', async () => {
  const probe = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.log(`  skipped: docker-compose is not available here (${probe.error?.message ?? probe.stderr.trim()})`);
    return;
  }
  const f = fixtureProject();
  try {
    assert.is((await build(seedApp(), f)).code, 0);
    const result = spawnSync('docker-compose', ['-f', join(f.root, 'compose.yaml'), 'config'], {
      cwd: f.root,
      encoding: 'utf8',
    });
    assert.is(result.status, 0, result.stderr);
    const resolved = YAML.parse(result.stdout) as ComposeFile;
    const v = values(f);
    const apiEnv = resolved.services[API].environment;
    assert.is(apiEnv.MY_APP__CUSTOMER_SERVER__API__TOKEN, v['my-app.customer-server.api.token']);
    assert.ok(apiEnv.MY_APP__CUSTOMER_SERVER__DB__URL.includes(v['my-app.customer-server.db.password'] as string));
    // The tree listing (JSON with quotes and spaces) survives the env file as it was written.
    assert.ok(Array.isArray(JSON.parse(resolved.services[CLIENT].environment.INFRA_TREE)));
    assert.is(resolved.services[DB].environment.POSTGRES_PASSWORD, v['my-app.customer-server.db.password']);
  } finally {
    f.remove();
  }
});

test('values and outputs are stable across builds', async () => {
  const f = fixtureProject();
  try {
    assert.is((await build(seedApp(), f)).code, 0);
    const snapshot = () => ({
      values: read(join(f.paths.buildDir, 'values.json')),
      compose: read(join(f.root, 'compose.yaml')),
      dockerfile: read(join(f.paths.buildDir, 'Dockerfile')),
      env: [DB, API, CLIENT].map((s) => read(envFile(f, s))),
    });
    const first = snapshot();
    const again = await build(seedApp(), f);
    assert.is(again.code, 0);
    assert.ok(again.output.includes('Kept 3'), again.output);
    assert.equal(snapshot(), first);
  } finally {
    f.remove();
  }
});

test('the Dockerfile: multi-stage, npm ci, compiled JavaScript run as node on the slim image', async () => {
  const f = fixtureProject();
  try {
    assert.is((await build(seedApp(), f)).code, 0);
    const text = read(join(f.paths.buildDir, 'Dockerfile'));
    const froms = text.match(/^FROM .*$/gm)!;
    assert.equal(froms, ['FROM node:24-bookworm-slim AS build', 'FROM node:24-bookworm-slim']);
    const [stage1, stage2] = text.split(/^FROM node:24-bookworm-slim$/m);
    // Stage 1: package files before the sources (layer caching), then npm ci, then the compilers.
    assert.ok(stage1.indexOf('COPY package.json package-lock.json ./') < stage1.indexOf('RUN npm ci'));
    assert.ok(stage1.includes('COPY runtime/package.json runtime/') && stage1.includes('COPY app/package.json app/'));
    assert.ok(stage1.indexOf('RUN npm ci') < stage1.indexOf('COPY . .'));
    assert.ok(
      stage1.includes('RUN npx tsc -p runtime/tsconfig.json') && stage1.includes('RUN npx tsc -p app/tsconfig.json'),
    );
    // Stage 2: production dependencies and compiled output only.
    assert.ok(/RUN npm ci --omit=dev/.test(stage2));
    assert.equal(stage2.match(/^COPY --from=build .*$/gm), [
      'COPY --from=build /app/runtime/dist runtime/dist',
      'COPY --from=build /app/app/dist app/dist',
    ]);
    assert.not.ok(/^COPY \. /m.test(stage2), 'the final image takes no sources');
    assert.ok(/^USER node$/m.test(stage2));
    assert.ok(stage2.trimEnd().endsWith('CMD ["node","app/dist/main.js"]'), stage2);

    const ignore = read(join(f.root, '.dockerignore')).split('\n');
    for (const entry of [
      '.git',
      '**/node_modules',
      '**/dist',
      'compose.yaml',
      'app/build',
      '**/build/values.json*',
      '**/build/env',
      '**/build/kubernetes',
      '**/build/postgres',
    ]) {
      assert.ok(ignore.includes(entry), `.dockerignore lists ${entry}`);
    }
  } finally {
    f.remove();
  }
});

test('an invalid tree writes nothing', async () => {
  const f = fixtureProject();
  try {
    const id = seedApp();
    class Misconfigured extends Component {
      override validate(): string[] {
        return ['needs a name (on purpose, for this test)'];
      }
    }
    new Misconfigured(id`broken`, 'Misconfigured');
    const { code, output } = await build(id, f);
    assert.is(code, 1);
    assert.ok(output.includes('Misconfigured my-app.broken: needs a name'), output);
    assert.not.ok(existsSync(join(f.root, 'compose.yaml')));
    assert.not.ok(existsSync(join(f.root, '.dockerignore')));
    assert.not.ok(existsSync(f.paths.buildDir));
  } finally {
    f.remove();
  }
});

test('a value whose ID derives a connection-count variable an operator sets is refused, naming both', async () => {
  const f = fixtureProject();
  try {
    const id = seedApp();
    // my-app.customer-server.db.pool-max → MY_APP__CUSTOMER_SERVER__DB__POOL_MAX, the store's pool override.
    new BuildTimeValue(id`customer-server``db``pool-max`, () => 7, { readers: [id] });
    const { code, output } = await build(id, f);
    assert.is(code, 1);
    assert.ok(
      output.includes(
        'Service my-app.customer-server.db.pool-max: two different values want the environment variable MY_APP__CUSTOMER_SERVER__DB__POOL_MAX',
      ),
      output,
    );
    assert.not.ok(existsSync(join(f.root, 'compose.yaml')));
  } finally {
    f.remove();
  }
});

test('reach follows declared use; workers restart; a public API publishes its port; stale env files go', async () => {
  const f = fixtureProject();
  try {
    assert.is((await build(shopApp(), f)).code, 0);
    const file = compose(f);
    const report = file.services['shop--report'];
    assert.equal(report.networks, ['shop--orders-net'], 'declared use: only the orders API');
    assert.equal(report.depends_on, { 'shop--orders': { condition: 'service_healthy' } });
    assert.is(report.environment.SHOP__CATALOG__URL, undefined, 'nor where the catalog API is');
    assert.ok(read(envFile(f, 'shop--report')).includes('SHOP__ORDERS__TOKEN='));
    assert.is(
      file.services['shop--catalog'].environment.SHOP__CATALOG__URL,
      `http://shop--catalog:${values(f)['shop.catalog.port']}`,
    );
    // The others declared nothing: one network joins them to every API.
    assert.equal(file.services['shop--catalog--indexer'].networks, ['every-api', 'shop--catalog--stock-net']);
    assert.equal(file.services['shop--orders'].networks, ['shop--orders-net', 'every-api']);

    const indexer = file.services['shop--catalog--indexer'];
    assert.is(indexer.restart, 'unless-stopped');
    // Its health endpoint, in its own container; compose asks it as it asks an API.
    assert.is(indexer.environment.INFRA_HEALTH_PORT, '8081');
    assert.ok(indexer.healthcheck!.test[3].includes('/dev/tcp/127.0.0.1/8081'), indexer.healthcheck!.test[3]);
    assert.ok(indexer.networks!.includes('shop--catalog--stock-net'));
    assert.ok(read(envFile(f, 'shop--catalog--indexer')).includes('SHOP__CATALOG__STOCK__URL='));
    assert.not.ok(file.services['shop--orders'].networks!.includes('shop--catalog--stock-net'));

    const port = values(f)['shop.catalog.port'];
    assert.equal(file.services['shop--catalog'].ports, [`${port}:${port}`]);
    assert.is(file.services['shop--orders'].ports, undefined);

    // The report task is removed: its env file (with the orders token) goes with it.
    const { code, output } = await build(shopApp(false), f);
    assert.is(code, 0);
    assert.not.ok(existsSync(envFile(f, 'shop--report')));
    assert.ok(output.includes('Removed app/build/env/shop--report.env'), output);
    assert.equal(readdirSync(join(f.paths.buildDir, 'env')).sort(), [
      'every-api.env',
      'shop--catalog--indexer.env',
      'shop--catalog--stock.env',
      'shop--catalog.env',
      'shop--orders.env',
    ]);
  } finally {
    f.remove();
  }
});

test("a Topic's database reaches only its subscriptions and the personas that may publish to it", async () => {
  const f = fixtureProject();
  try {
    const id = rootId('topics');
    const orders = new Topic<{ id: string }>(id`orders`);
    const api = new ApiServer(id`shop`, { uses: [orders] });
    api.defineEndpoint('/order', async (o: { id: string }) => void (await orders.publish(o)), { method: 'POST' });
    new Subscription(id`mailer`, orders, async () => {});
    new Subscription(id`invoicer`, orders, async () => {}, { replicas: 2 });
    new Worker(id`bystander`, async () => {}, { uses: [] });
    onDeploy(id`anything-goes`, async () => {});
    assert.is((await build(id, f, ['--target', 'kubernetes'])).code, 0);
    const file = compose(f);
    const db = file.services['topics--orders'];
    assert.ok(db, 'the topic has a PostgreSQL service of its own');
    assert.equal(db.networks, ['topics--orders-net']);
    assert.ok(file.volumes && 'topics--orders-data' in file.volumes, 'and a volume');
    const reach = (service: string) => file.services[service].networks?.includes('topics--orders-net') ?? false;
    const hasUrl = (service: string) => read(envFile(f, service)).includes('TOPICS__ORDERS__URL=postgres://app:');
    for (const service of ['topics--shop', 'topics--mailer', 'topics--invoicer', 'topics--anything-goes']) {
      assert.ok(reach(service), `${service} joins the topic's network`);
      assert.ok(hasUrl(service), `${service} gets the topic's URL`);
    }
    assert.not.ok(reach('topics--bystander'), 'a persona whose uses leaves it out does not');
    assert.not.ok(hasUrl('topics--bystander'));
    // Its data is a resource of the build, which warns when the topic is gone (orphans, infra:prune).
    const resources = JSON.parse(read(join(f.paths.buildDir, 'resources.json'))).resources as {
      store: string;
      kind: string;
    }[];
    assert.ok(
      resources.some((r) => r.store === 'topics.orders' && r.kind === 'Topic'),
      JSON.stringify(resources),
    );
    // A subscription runs as a worker: restarted, with a health endpoint.
    assert.is(file.services['topics--mailer'].restart, 'unless-stopped');
    assert.is(file.services['topics--mailer'].environment.INFRA_HEALTH_PORT, '8081');
    // The diagram draws who publishes and who subscribes.
    const diagram = read(join(f.paths.buildDir, 'architecture.md'));
    assert.match(diagram, /n_topics_2e_orders>"topics\.orders<br\/>Topic"\]/);
    assert.match(diagram, 'n_topics_2e_shop -->|publishes| n_topics_2e_orders');
    assert.match(diagram, 'n_topics_2e_mailer -->|subscribes| n_topics_2e_orders');
    assert.not.match(diagram, 'n_topics_2e_bystander -->|publishes|');
    // Kubernetes: the topic's database as a Store's, reached only by the same personas.
    const k8s = readdirSync(join(f.paths.buildDir, 'kubernetes'))
      .map((name) => read(join(f.paths.buildDir, 'kubernetes', name)))
      .join('\n---\n');
    assert.match(k8s, /name: topics--orders\b/);
    const policies = YAML.parseAllDocuments(k8s)
      .map((d) => d.toJS())
      .filter((m) => m?.kind === 'NetworkPolicy' && m.metadata.name.endsWith('--to--topics--orders'));
    assert.ok(policies.length > 0, 'a NetworkPolicy guards the topic database');
    const allowed = JSON.stringify(policies);
    for (const persona of ['topics--shop', 'topics--mailer', 'topics--invoicer'])
      assert.ok(allowed.includes(persona), `${persona} may reach the topic's database`);
    assert.not.ok(allowed.includes('topics--bystander'), 'the bystander may not');
  } finally {
    f.remove();
  }
});

test('an API that declares its uses shares no network with other APIs, while personas that declare none reach it', async () => {
  const f = fixtureProject();
  try {
    const id = rootId('mixed');
    const payments = new ApiServer(id`payments`, { uses: [] });
    const restricted = new ApiServer(id`restricted`, { uses: [] });
    const open = new ApiServer(id`open`);
    for (const api of [payments, restricted, open]) api.defineEndpoint('/ping', async () => 'pong', { method: 'GET' });
    onDeploy(id`seed`, async () => {});
    assert.is((await build(id, f)).code, 0);
    const services = compose(f).services;
    const nets = (name: string) => new Set(services[`mixed--${name}`].networks);
    const shared = (a: string, b: string) => [...nets(a)].filter((n) => nets(b).has(n));
    assert.equal(shared('payments', 'restricted'), [], 'declared APIs are apart');
    assert.equal(
      shared('payments', 'open'),
      ['mixed--payments-net'],
      'the open API declared nothing: it may call payments',
    );
    assert.equal(shared('restricted', 'open'), ['mixed--restricted-net']);
    // The seed task (declared nothing) reaches all three, and waits for them.
    assert.equal([...nets('seed')].sort(), ['every-api', 'mixed--payments-net', 'mixed--restricted-net']);
    assert.ok(nets('open').has('every-api'));
    assert.equal(Object.keys(services['mixed--seed'].depends_on ?? {}).sort(), [
      'mixed--open',
      'mixed--payments',
      'mixed--restricted',
    ]);
  } finally {
    f.remove();
  }
});

test('with no API there is nothing to share: no every-api env file or network', async () => {
  const f = fixtureProject();
  try {
    const id = rootId('quiet');
    new Worker(id`tick`, async () => {});
    assert.is((await build(id, f)).code, 0);
    const file = compose(f);
    assert.not.ok(existsSync(envFile(f, 'every-api')));
    assert.not.ok(Object.keys(file.networks ?? {}).includes('every-api'));
    assert.equal(file.services['quiet--tick'].env_file, ['app/build/env/quiet--tick.env']);
  } finally {
    f.remove();
  }
});

test('a "$" in a value stays literal: compose.yaml doubles it against interpolation', async () => {
  const f = fixtureProject();
  try {
    const id = rootId('prices');
    onDeploy(id`cost-$5`, async () => {});
    assert.is((await build(id, f)).code, 0);
    const text = read(join(f.root, 'compose.yaml'));
    const service = Object.keys(compose(f).services)[0];
    assert.is(compose(f).services[service].environment.PERSONA, 'prices.cost-$$5');
    const probe = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0)
      return console.log('  (docker-compose not available: its reading is not checked)');
    // Unescaped, `$5` would be an invalid interpolation and docker-compose would refuse the file.
    const result = spawnSync('docker-compose', ['-f', join(f.root, 'compose.yaml'), 'config'], {
      cwd: f.root,
      encoding: 'utf8',
    });
    assert.is(result.status, 0, result.stderr + text);
  } finally {
    f.remove();
  }
});

test('env files quote what needs quoting and refuse what no reader reads back the same', () => {
  assert.is(envFileText('s', [{ name: 'A', value: 'plain-value_1/x=y' }]).split('\n')[1], 'A=plain-value_1/x=y');
  assert.is(envFileText('s', [{ name: 'A', value: 'costs $5 #1' }]).split('\n')[1], "A='costs $5 #1'");
  assert.throws(() => envFileText('s', [{ name: 'A', value: "it's $5" }]), /A cannot be written to an env file/);
  assert.throws(() => envFileText('s', [{ name: 'A', value: 'two\nlines' }]), /A cannot be written/);
});

test.run();
