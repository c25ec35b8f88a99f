/**
 * The `npx plop component` generator: programmatically (node-plop) into temporary copies of
 * the starter app for every kind, whose result must typecheck, pass its own generated tests,
 * run and build (a scaffolded API refusing a wrong argument with 400, over HTTP too); and the
 * real command line with stdin closed, for its exit codes and for writing nothing when it
 * refuses or only plans.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import nodePlop, { type PlopCfg } from 'node-plop';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import tseslint from 'typescript-eslint';
import infraEslint from 'infra-generator/eslint';
import { appOf, onDeploy, rootId, startInProcess, Store, Worker, type ApiServer } from 'infra-generator';
import { repoRoot, seedExample } from './support/seed.ts';
import { readEnvFile } from './support/env-file.ts';
import { rawRequest, serveApi } from './support/serve-api.ts';
import { checkGeneratorArguments, readCommandLine } from '../generators/command-line.ts';
import { checkName } from '../generators/names.ts';
import { readAppState, renderManifest } from '../generators/app-state.ts';
import { planComponent } from '../generators/plan.ts';
import { writePlan } from '../generators/write-plan.ts';
import { GeneratorError } from '../generators/errors.ts';
import type { PlopfileConfig } from '../generators/index.ts';
import { componentPrompts, usesChoices } from '../generators/component.ts';
import type { Prompt } from '../generators/prompts.ts';
import { parse } from 'yaml';

const run = promisify(execFile);
const plopfile = join(repoRoot, 'plopfile.js');

interface Answers {
  kind: string;
  name: string;
  uses?: string[];
  /** `-- --dry-run`: plop hands it to the prompt of that name. */
  'dry-run'?: boolean;
}

const starterSrc = join(repoRoot, 'starter', 'src');

/**
 * Fills `dir` (inside the repository, so the app's imports resolve through the workspace's
 * node_modules) with a copy of the starter app that has no generated components yet: its
 * modules (main.ts, customer-server.ts) and its manifest's `provided`, not its components.
 */
async function copyStarter(dir: string): Promise<void> {
  for (const file of ['package.json', 'tsconfig.json']) cpSync(join(repoRoot, 'starter', file), join(dir, file));
  const modules = readdirSync(starterSrc).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of modules) cpSync(join(starterSrc, file), join(dir, 'src', file));
  const { provided } = readAppState(join(repoRoot, 'starter')).manifest;
  mkdirSync(join(dir, 'src', 'components'));
  writeFileSync(join(dir, 'src', 'components', 'components.json'), renderManifest({ provided, components: [] }));
  // Type-checks the tests too (the starter's own tsconfig leaves them out of its build).
  writeFileSync(
    join(dir, 'tsconfig.check.json'),
    JSON.stringify({ extends: '../tsconfig.base.json', compilerOptions: { noEmit: true }, include: ['src'] }),
  );
  const plop = await loadPlop(dir);
  const { failures } = await plop.getGenerator('registry').runActions({});
  assert.equal(failures, [], 'the registry generator makes an empty registry');
}

/** The plopfile as plop's CLI loads it, with the command line and the terminal given here. */
function loadPlop(appDir: string, argv: string[] = [], interactive = false) {
  const config: PlopfileConfig & PlopCfg = { destBasePath: appDir, force: false, argv, interactive };
  return nodePlop(plopfile, config);
}

async function generate(appDir: string, answers: Answers) {
  const plop = await loadPlop(appDir);
  return plop.getGenerator('component').runActions({ uses: [], ...answers });
}

/** Every file under `dir` with its content and mode, to prove that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[relative(dir, path)] = `${statSync(path).mode} ${readFileSync(path, 'utf8')}`;
    }
  };
  walk(dir);
  return files;
}

async function withCopy(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(repoRoot, '.tmp-gen-'));
  try {
    await copyStarter(dir);
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const failed = (result: { failures: { error: string }[] }) => result.failures.map((f) => f.error).join('\n');

/** ESLint on the app copy in `dir`, with type information and the runtime's own rules (infra-generator/eslint). */
function eslintFor(dir: string): ESLint {
  return new ESLint({
    cwd: dir,
    overrideConfigFile: true,
    overrideConfig: [
      { languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: dir } } },
      infraEslint.configs.recommended,
    ],
  });
}

/**
 * Asserts that `files` pass what `npm run lint` checks: the repository's ESLint configuration
 * (typescript-eslint's recommended rules and ours; its ignores, which leave out the copy's
 * folder, set aside), the runtime's own rules with type information (on the modules), and Prettier.
 */
async function assertLintClean(dir: string, files: string[]): Promise<void> {
  const repoRules = new ESLint({
    cwd: repoRoot,
    overrideConfigFile: join(repoRoot, 'eslint.config.js'),
    ignore: false,
  });
  const problems: string[] = [];
  const code = files.filter((file) => file.endsWith('.ts'));
  // The app's tsconfig leaves its tests out, so the typed rules see the modules only.
  const modules = code.filter((file) => !file.endsWith('.test.ts'));
  for (const [eslint, linting] of [
    [repoRules, code],
    [eslintFor(dir), modules],
  ] as const) {
    const linted = await eslint.lintFiles(linting);
    assert.is(linted.length, linting.length);
    problems.push(
      ...linted.flatMap((r) =>
        r.messages.map((m) => `${relative(dir, r.filePath)}:${m.line} ${m.ruleId} ${m.message}`),
      ),
    );
  }
  for (const file of files) {
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    if (!(await prettier.check(readFileSync(file, 'utf8'), options)))
      problems.push(`${relative(dir, file)}: not formatted`);
  }
  assert.equal(problems, []);
}

/** Builds the app copy in `dir` (PERSONA=build) and asserts that the build lists each `[name, kind]`. */
async function buildSees(dir: string, components: [string, string][]): Promise<void> {
  const env = { ...process.env, INFRA_PROJECT_ROOT: dir, INFRA_BUILD_DIR: join(dir, 'build'), PERSONA: 'build' };
  const built = await run(process.execPath, ['--conditions=source', join(dir, 'src', 'main.ts')], { env });
  for (const [name, kind] of components)
    assert.match(
      built.stdout,
      new RegExp(`\\n\\s+${name}\\s+${kind}\\n`),
      `the build sees ${kind} ${name}:\n${built.stdout}`,
    );
}

/** Type-checks the app copy in `dir`, then runs its components' generated tests; resolves to their output. */
async function typecheckAndTest(dir: string) {
  await run(process.execPath, [
    join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(dir, 'tsconfig.check.json'),
  ]);
  const uvu = join(repoRoot, 'node_modules', 'uvu', 'bin.js');
  return run(process.execPath, ['--conditions=source', uvu, join(dir, 'src'), '\\.test\\.ts$'], {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
}

test('every kind, with and without uses: the result typechecks, passes its generated tests, runs and builds; its APIs answer a wrong argument with 400', async () => {
  await withCopy(async (dir) => {
    const made: Answers[] = [
      { kind: 'store', name: 'orders' },
      { kind: 'api', name: 'orders-api' },
      { kind: 'task', name: 'seed-orders' },
      { kind: 'worker', name: 'order-mailer' },
      { kind: 'api', name: 'shop-api', uses: ['orders'] },
      { kind: 'task', name: 'seed-shop', uses: ['orders', 'shop-api'] },
      { kind: 'worker', name: 'shop-mailer', uses: ['orders', 'shop-api', 'orders-api'] },
      { kind: 'worker', name: 'shop-watcher', uses: ['shop-api'] },
    ];
    for (const answers of made) {
      const result = await generate(dir, answers);
      assert.equal(failed(result), '', `${answers.kind} ${answers.name}`);
      assert.ok(existsSync(join(dir, 'src', 'components', `${answers.name}.ts`)));
      assert.ok(existsSync(join(dir, 'src', 'components', `${answers.name}.test.ts`)));
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'src', 'components', 'components.json'), 'utf8'));
    assert.equal(
      manifest.components,
      made.map(({ kind, name, uses = [] }) => ({ kind, name, uses })),
    );

    const tests = await typecheckAndTest(dir);
    assert.match(tests.stdout, /Total:\s+10\b/, tests.stdout);
    assert.match(tests.stdout, /Passed:\s+10\b/, tests.stdout);
    // Every template's output passes `npm run lint`, and keeps to the phases (infra-generator/eslint).
    await assertLintClean(dir, [
      join(dir, 'src', 'main.ts'),
      join(dir, 'src', 'components', 'index.ts'),
      join(dir, 'src', 'components', 'components.json'),
      ...made.flatMap(({ name }) => [
        join(dir, 'src', 'components', `${name}.ts`),
        join(dir, 'src', 'components', `${name}.test.ts`),
      ]),
    ]);
    // Among them, in one process: each API answers a wrong argument with 400 and keeps nothing.
    for (const api of ['orders-api', 'shop-api']) {
      const generatedTest = readFileSync(join(dir, 'src', 'components', `${api}.test.ts`), 'utf8');
      assert.match(
        generatedTest,
        `test('${api} answers 400 to an argument its schema refuses, before the handler runs'`,
      );
      assert.match(
        generatedTest,
        `assert.is(failure.message, 'Invalid argument to test.${api} (POST /${api}/items): /name must be string');`,
      );
    }

    // The scaffolded API deployed (its own HTTP server, as in a container): a wrong argument
    // gets 400 naming the field, and the handler never sees it.
    const { createOrdersApi } = await import(pathToFileURL(join(dir, 'src', 'components', 'orders-api.ts')).href);
    const served = rootId('generated-http');
    createOrdersApi(served`orders-api`, {});
    const token = 'generated-api-token';
    const server = await serveApi(appOf(served).find(served`orders-api`) as ApiServer, token);
    try {
      const items = `${server.url}/orders-api/items`;
      const post = (body: string) => rawRequest(items, 'POST', { body, type: 'application/json', token });
      const get = (key: unknown) =>
        rawRequest(`${items}?arg=${encodeURIComponent(JSON.stringify(key))}`, 'GET', { token });
      assert.equal((await post('{"id":"1","name":42}')).json, {
        error: 'Invalid argument to generated-http.orders-api (POST /orders-api/items): /name must be string',
        status: 400,
      });
      assert.is((await post('{"name":"No id"}')).status, 400);
      assert.is((await get(1)).status, 400);
      assert.is((await get('1')).status, 204, 'nothing was kept');
      assert.is((await post('{"id":"1","name":"First"}')).status, 204, 'a right argument reaches the handler');
      assert.equal((await get('1')).json, { id: '1', name: 'First' });
    } finally {
      server.controller.abort();
      await server.platform.close();
    }

    const env = { ...process.env, INFRA_PROJECT_ROOT: dir, INFRA_BUILD_DIR: join(dir, 'build') };
    const started = await run(process.execPath, ['--conditions=source', join(dir, 'src', 'main.ts')], {
      env: { ...env, PERSONA: '' },
    });
    const lines = started.stdout.split('\n');
    assert.ok(lines.includes('Loaded customer: {"id":"1","name":"John Doe"}'), started.stdout);
    assert.ok(lines.includes('my-app.components.seed-orders: ran for this deployment'), started.stdout);
    assert.ok(lines.includes('my-app.components.order-mailer: one round of work done'), started.stdout);
    assert.ok(
      lines.includes('my-app.components.seed-shop: shop-api has {"id":"example","name":"Example from seed-shop"}'),
      started.stdout,
    );

    await buildSees(dir, [
      ['orders', 'Store'],
      ['orders-api', 'ApiServer'],
      ['seed-orders', 'DeployTask'],
      ['order-mailer', 'Worker'],
    ]);
  });
});

test('topic and cron, with and without uses: typecheck, pass their generated tests, lint clean, and the build sees them with their databases', async () => {
  await withCopy(async (dir) => {
    const made: Answers[] = [
      { kind: 'store', name: 'orders' },
      { kind: 'topic', name: 'order-placed' },
      { kind: 'topic', name: 'order-shipped', uses: ['orders', 'customer-server'] },
      { kind: 'cron', name: 'nightly-cleanup' },
      { kind: 'cron', name: 'hourly-sync', uses: ['orders', 'customer-server'] },
    ];
    for (const answers of made) {
      const result = await generate(dir, answers);
      assert.equal(failed(result), '', `${answers.kind} ${answers.name}`);
    }
    const tests = await typecheckAndTest(dir);
    assert.match(tests.stdout, /Total:\s+5\b/, tests.stdout);
    assert.match(tests.stdout, /Passed:\s+5\b/, tests.stdout);
    await assertLintClean(
      dir,
      made.flatMap(({ name }) => [
        join(dir, 'src', 'components', `${name}.ts`),
        join(dir, 'src', 'components', `${name}.test.ts`),
      ]),
    );
    // Nothing can use a topic or a cron yet: a publisher is given the topic by hand.
    const refused = await generate(dir, { kind: 'task', name: 'announce', uses: ['order-placed'] });
    assert.match(failed(refused), 'order-placed is a topic: it has nothing to call');

    await buildSees(dir, [
      ['order-placed', 'Topic'],
      ['handler', 'Subscription'],
      ['nightly-cleanup', 'Cron'],
      ['ticks', 'Store'],
    ]);
    const compose = readFileSync(join(dir, 'compose.yaml'), 'utf8');
    for (const service of [
      'my-app--components--order-placed:',
      'my-app--components--order-placed--handler:',
      'my-app--components--nightly-cleanup:',
      'my-app--components--nightly-cleanup--ticks:',
    ])
      assert.ok(compose.includes(`\n  ${service}\n`), `${service} in compose.yaml`);
  });
});

test('a name already used, a bad name, a reserved word or a bad use: refused with what to do, nothing written', async () => {
  await withCopy(async (dir) => {
    assert.equal(failed(await generate(dir, { kind: 'store', name: 'orders' })), '');
    assert.equal(failed(await generate(dir, { kind: 'task', name: 'seed-orders' })), '');
    const before = snapshot(dir);
    const refused: [Answers, RegExp][] = [
      [
        { kind: 'store', name: 'orders' },
        /"orders" is already used by the store in .*components\.json: choose another name/,
      ],
      [{ kind: 'api', name: 'orders' }, /"orders" is already used/],
      [{ kind: 'store', name: 'Bad Name!' }, /"Bad Name!" is not a kebab-case name.*e\.g\. "bad-name"/],
      [
        { kind: 'store', name: 'order' },
        /"order" is a reserved word in SQL: choose another name, e\.g\. "order-store"/,
      ],
      [{ kind: 'store', name: 'user' }, /reserved word in SQL/],
      [{ kind: 'worker', name: 'class' }, /JavaScript\/TypeScript keyword/],
      [{ kind: 'api', name: 'api-server' }, /would shadow the runtime's export ApiServer/],
      [{ kind: 'api', name: 'build' }, /a name the runtime or the starter app already uses/],
      [{ kind: 'store', name: 'create-orders' }, /would declare createOrders, which the store orders already declares/],
      [
        { kind: 'api', name: 'x'.repeat(40) },
        /is too long: .* \(\d+ characters, at most 63\); use a name of at most \d+ characters/,
      ],
      [{ kind: 'queue', name: 'jobs' }, /the kind must be one of store, api, task, worker, topic, cron, not "queue"/],
      [
        { kind: 'task', name: 'report', uses: ['nope'] },
        /there is no component named "nope" to use: choose from customer-server \(api\), orders \(store\)$/m,
      ],
      [
        { kind: 'api', name: 'customer-server' },
        /"customer-server" is already used by the api main\.ts provides \(\.\.\/customer-server\.ts, listed in .*components\.json\): choose another name/,
      ],
      [
        { kind: 'store', name: 'create-customer-server' },
        /would declare createCustomerServer, which the api main\.ts provides, customer-server, already declares/,
      ],
      [{ kind: 'store', name: 'archive', uses: ['customer-server'] }, /a store uses nothing/],
      [{ kind: 'task', name: 'report', uses: ['seed-orders'] }, /seed-orders is a task: it has nothing to call/],
      [{ kind: 'store', name: 'archive', uses: ['orders'] }, /a store uses nothing/],
    ];
    for (const [answers, message] of refused) {
      const result = await generate(dir, answers);
      assert.is(result.changes.length, 0, `${answers.kind} ${answers.name}`);
      assert.match(failed(result), /^Nothing was written\./, `${answers.kind} ${answers.name}: ${failed(result)}`);
      assert.match(failed(result), message);
    }
    // A file in the way (not made by the generator) is never overwritten.
    writeFileSync(join(dir, 'src', 'components', 'invoices.test.ts'), '// mine\n');
    const inTheWay = snapshot(dir);
    assert.match(
      failed(await generate(dir, { kind: 'store', name: 'invoices' })),
      /invoices\.test\.ts already exists: choose another name, or move that file away/,
    );
    assert.equal(snapshot(dir), inTheWay);
    rmSync(join(dir, 'src', 'components', 'invoices.test.ts'));
    assert.equal(snapshot(dir), before);
  });
});

test('a dry run lists every file it would create or change, and writes nothing', async () => {
  await withCopy(async (dir) => {
    const before = snapshot(dir);
    const result = await generate(dir, { kind: 'worker', name: 'order-mailer', 'dry-run': true });
    assert.equal(failed(result), '');
    const listed = result.changes.map((c) => c.path).join('\n');
    for (const line of [
      /would create \S*order-mailer\.ts/,
      /would create \S*order-mailer\.test\.ts/,
      /would change \S*components\.json/,
      /would change \S*index\.ts/,
      /dry run: nothing was written/,
    ]) {
      assert.match(listed, line);
    }
    assert.equal(snapshot(dir), before);
  });
});

test("with the seed's example as main.ts (no registry call) it still generates, and says what to add", async () => {
  await withCopy(async (dir) => {
    writeFileSync(join(dir, 'src', 'main.ts'), seedExample());
    const result = await generate(dir, { kind: 'store', name: 'orders' });
    assert.equal(failed(result), '');
    assert.match(
      result.changes[0].path,
      /main\.ts does not call createComponents\(\).*add `import \{ createComponents \} from '\.\/components\/index\.ts';` and `createComponents\(id`components`, \{ customerServer: … \}\);` before runPersona\(\)/,
    );
    assert.is(readFileSync(join(dir, 'src', 'main.ts'), 'utf8'), seedExample(), "main.ts is the user's: never changed");
    const started = await run(process.execPath, ['--conditions=source', join(dir, 'src', 'main.ts')], {
      env: { ...process.env, PERSONA: '' },
    });
    assert.is(started.stdout.trim(), 'Loaded customer: {"id":"1","name":"John Doe"}');
  });
});

test('components that use the customer server main.ts provides: a typed client, they typecheck and pass their tests, `npm start` calls it, the build gives each exactly its token', async () => {
  await withCopy(async (dir) => {
    const made: Answers[] = [
      { kind: 'store', name: 'orders' },
      { kind: 'api', name: 'customers-api', uses: ['customer-server'] },
      { kind: 'task', name: 'seed-customers', uses: ['customer-server'] },
      { kind: 'worker', name: 'customer-watcher', uses: ['customer-server'] },
      { kind: 'worker', name: 'order-copier', uses: ['orders', 'customer-server'] },
    ];
    for (const answers of made)
      assert.equal(failed(await generate(dir, answers)), '', `${answers.kind} ${answers.name}`);
    const components = join(dir, 'src', 'components');
    const task = readFileSync(join(components, 'seed-customers.ts'), 'utf8');
    assert.match(task, "import type { CustomerServer } from '../customer-server.ts';");
    assert.match(task, 'customerServer: CustomerServer;');
    assert.match(task, 'await deps.customerServer.getCustomer(');
    assert.match(task, '{ uses: [deps.customerServer] }');
    const registry = readFileSync(join(components, 'index.ts'), 'utf8');
    assert.match(registry, 'export function createComponents(id: ID, provided: Provided): Components {');
    assert.match(registry, '  const { customerServer } = provided;\n');
    assert.match(registry, 'createSeedCustomers(id`seed-customers`, { customerServer })');
    assert.match(registry, 'createOrderCopier(id`order-copier`, { orders, customerServer })');

    const tests = await typecheckAndTest(dir);
    assert.match(tests.stdout, /Total:\s+6\b/, tests.stdout);
    assert.match(tests.stdout, /Passed:\s+6\b/, tests.stdout);

    // `npm start` in the copy: every persona in one process, the task calling the customer server main.ts made.
    const env = { ...process.env, INFRA_PROJECT_ROOT: dir, INFRA_BUILD_DIR: join(dir, 'build') };
    const started = await run('npm', ['start', '--silent'], { cwd: dir, env: { ...env, PERSONA: '' } });
    const lines = started.stdout.split('\n');
    assert.ok(lines.includes('Loaded customer: {"id":"1","name":"John Doe"}'), started.stdout);
    assert.ok(
      lines.includes(
        'my-app.components.seed-customers: customer-server has {"id":"example","name":"Example from seed-customers"}',
      ),
      started.stdout,
    );

    // Least privilege: a generated persona that declared its uses gets the customer server's token and network,
    // and no other API's.
    await run(process.execPath, ['--conditions=source', join(dir, 'src', 'main.ts')], {
      env: { ...env, PERSONA: 'build' },
    });
    const compose = parse(readFileSync(join(dir, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { networks: string[]; env_file: string | string[] }>;
    };
    // The API tokens a service's container receives: those in every env file compose gives it.
    const tokens = (service: string) =>
      [compose.services[service].env_file]
        .flat()
        .flatMap((file) => Object.keys(readEnvFile(join(dir, file))))
        .filter((name) => name.endsWith('__TOKEN'))
        .sort();
    const serverToken = 'MY_APP__CUSTOMER_SERVER__API__TOKEN';
    const apiToken = 'MY_APP__COMPONENTS__CUSTOMERS_API__TOKEN';
    assert.equal(tokens('my-app--components--seed-customers'), [serverToken]);
    assert.equal(tokens('my-app--components--customer-watcher'), [serverToken]);
    assert.equal(tokens('my-app--components--order-copier'), [serverToken]);
    assert.equal(
      tokens('my-app--components--customers-api'),
      [apiToken, serverToken],
      'its own token, and the one it calls with',
    );
    // The seed's example client declares nothing, so it may call every API: the declaration is what narrows the task's.
    assert.equal(tokens('my-app--example-client'), [apiToken, serverToken]);
    const networks = compose.services['my-app--components--seed-customers'].networks;
    assert.ok(networks.includes('my-app--customer-server--api-net'), networks.join());
    assert.not.ok(networks.includes('my-app--components--customers-api-net'), networks.join());
  });
});

test("components.json's provided entries are checked, offered first in the checkbox, and main.ts is told to pass them", async () => {
  await withCopy(async (dir) => {
    assert.equal(failed(await generate(dir, { kind: 'store', name: 'orders' })), '');
    assert.equal(failed(await generate(dir, { kind: 'api', name: 'orders-api' })), '');
    assert.equal(usesChoices(readAppState(dir), 'report'), [
      { value: 'customer-server', name: 'customer-server (api, from main.ts)', short: 'customer-server' },
      { value: 'orders', name: 'orders (store)', short: 'orders' },
      { value: 'orders-api', name: 'orders-api (api)', short: 'orders-api' },
    ]);

    const main = join(dir, 'src', 'main.ts');
    const starterMain = readFileSync(main, 'utf8');
    writeFileSync(
      main,
      starterMain.replace(
        'createComponents(id`components`, { customerServer: server });',
        'createComponents(id`components`);',
      ),
    );
    const unpassed = await generate(dir, { kind: 'task', name: 'report', uses: ['customer-server'] });
    assert.equal(failed(unpassed), '');
    assert.match(
      unpassed.changes[0].path,
      /main\.ts calls createComponents\(\) without what .*components\.json provides: pass \{ customerServer: … \} as its second argument/,
    );
    writeFileSync(main, starterMain);
    const passed = await generate(dir, { kind: 'task', name: 'report-again', uses: ['customer-server'] });
    assert.not.match(passed.changes[0].path, /note:/);

    const manifestPath = join(dir, 'src', 'components', 'components.json');
    const manifestText = readFileSync(manifestPath, 'utf8');
    const manifest = JSON.parse(manifestText);
    const before = snapshot(dir);
    const broken: [unknown, RegExp][] = [
      [
        { ...manifest.provided[0], module: '../gone.ts' },
        /provides customer-server from \.\.\/gone\.ts, which does not exist .*: restore the module, or fix its "module" there/,
      ],
      [
        { ...manifest.provided[0], kind: 'store' },
        /provided\[0\]\.kind is "store"; only an API can be provided \(a store belongs to its owner's subtree: provide an API in front of it\)/,
      ],
      [
        { ...manifest.provided[0], example: { put: 'postCustomer' } },
        /provided\[0\]\.example must name two of its client functions/,
      ],
      [{ ...manifest.provided[0], name: 'orders' }, /components\[0\]: orders is listed twice/],
    ];
    for (const [entry, message] of broken) {
      writeFileSync(manifestPath, JSON.stringify({ ...manifest, provided: [entry] }));
      const result = await generate(dir, { kind: 'task', name: 'audit', uses: ['customer-server'] });
      assert.match(failed(result), message);
      assert.not.ok(existsSync(join(dir, 'src', 'components', 'audit.ts')), 'nothing was written');
    }
    writeFileSync(manifestPath, manifestText);
    assert.equal(snapshot(dir), before);
  });
});

test('a failure while writing removes what was written and restores what was changed', async () => {
  await withCopy(async (dir) => {
    const before = snapshot(dir);
    const render = (await loadPlop(dir)).renderString;
    const plan = planComponent({ kind: 'store', name: 'orders', uses: [] }, readAppState(dir), { repoRoot, render });
    assert.equal(
      plan.writes.map((w) => relative(dir, w.path)),
      [
        'src/components/orders.ts',
        'src/components/orders.test.ts',
        'src/components/components.json',
        'src/components/index.ts',
      ],
    );

    // The registry changes after planning: the module, its test and the manifest are already placed when this is found.
    const registry = join(dir, 'src', 'components', 'index.ts');
    const original = readFileSync(registry, 'utf8');
    writeFileSync(registry, original + '// edited meanwhile\n');
    const edited = snapshot(dir);
    assert.throws(
      () => writePlan(plan.writes),
      (err: Error) => err instanceof GeneratorError && /index\.ts changed while the generator ran/.test(err.message),
    );
    assert.equal(snapshot(dir), edited, 'the module, its test and the manifest were taken back');

    // A file that appears after planning is not overwritten either.
    writeFileSync(registry, original);
    const again = planComponent({ kind: 'store', name: 'orders', uses: [] }, readAppState(dir), { repoRoot, render });
    writeFileSync(join(dir, 'src', 'components', 'orders.test.ts'), '// appeared\n');
    assert.throws(() => writePlan(again.writes), /orders\.test\.ts appeared while the generator ran/);
    assert.is(readFileSync(join(dir, 'src', 'components', 'orders.test.ts'), 'utf8'), '// appeared\n');
    assert.not.ok(existsSync(join(dir, 'src', 'components', 'orders.ts')), 'the module placed before it was removed');
    rmSync(join(dir, 'src', 'components', 'orders.test.ts'));
    assert.equal(snapshot(dir), before);
    assert.equal(
      readdirSync(join(dir, 'src', 'components')).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary files are left',
    );
  });
});

test('answers from the command line: plop fills the prompts (by position, `_` to ask, by name after `--`); the rest is read strictly', async () => {
  const names = ['component', 'registry'];
  const line = (...args: string[]) => readCommandLine(args, names, {});
  assert.equal(line('component', 'store', 'orders'), {
    generator: 'component',
    help: false,
    dryRun: false,
    afterDashes: [],
    optionsBefore: [],
  });
  // plop's own options may come first: the generator is the first word that names one.
  assert.equal(line('--dest', 'app', 'component', '_', 'orders', '--dry-run', '--', '--uses', 'a'), {
    generator: 'component',
    help: false,
    dryRun: true,
    afterDashes: ['--uses', 'a'],
    optionsBefore: ['dest'],
  });
  assert.is(readCommandLine(['component'], names, { PLOP_DRY_RUN: '1' }).dryRun, true);
  assert.is(readCommandLine(['component'], names, { PLOP_DRY_RUN: '0' }).dryRun, false);
  // `--help` after the generator's name (before or after `--`) is the generator's; without a name, plop's own.
  assert.ok(line('component', '-h').help);
  assert.is(line('--help').generator, undefined);
  assert.is(line('registry', '--help').generator, 'registry');

  // After `--`, the options are the prompts' names (and --help), checked strictly.
  const prompts = componentPrompts({ repoRoot, appDir: join(repoRoot, 'starter'), interactive: false, dryRun: false });
  const check = (...args: string[]) => checkGeneratorArguments(line(...args), { name: 'component', prompts });
  assert.equal(check('component', 'task', 'seed', '--', '--uses', 'a,b', '--dry-run'), { help: false });
  assert.equal(check('component', 'store', '--', '-h'), { help: true });
  assert.equal(check('component', '--help'), { help: true });
  const refused: [string[], RegExp][] = [
    [
      ['component', 'task', 'seed', '--', '--usess', 'x'],
      /^Unknown option --usess: the component generator takes --kind, --name, --uses, --dry-run, --help \(after `--`\)\. Usage: .* Run `npx plop component --help` for what each option does\.$/,
    ],
    [['component', 'task', 'seed', '--', '-x'], /^Unknown option -x:/],
    [['component', 'task', 'seed', '--', 'stray'], /^Unexpected argument "stray"\./],
    [
      ['component', 'task', 'seed', '--', '--uses', 'a', '--uses', 'b'],
      /^--uses is given twice: give it once, the names separated by commas/,
    ],
    [
      ['component', 'task', 'seed', '--uses', 'orders'],
      /^--uses goes after `--`: plop hands the generator only what follows it/,
    ],
    [['component', 'task', 'seed', '--', '--uses'], /^Option '--uses <value>' argument missing\. Usage:/],
    [['component', 'task', 'seed', '--', '--dry-run=yes'], /^Option '--dry-run' does not take an argument\. Usage:/],
    // --help does not hide a wrong option (as for infra:local).
    [['component', '--help', '--', '--bogus'], /^Unknown option --bogus/],
  ];
  for (const [args, message] of refused) assert.throws(() => check(...args), message, args.join(' '));

  await withCopy(async (dir) => {
    // What plop's CLI hands runPrompts: the answers by position, with those named after `--` merged
    // in at their prompt's place (`-- --uses customer-server --dry-run` is [_, _, 'customer-server', 'true']).
    const component = (await loadPlop(dir)).getGenerator('component');
    assert.equal(await component.runPrompts(['task', 'seed-orders', 'orders']), {
      kind: 'task',
      name: 'seed-orders',
      uses: ['orders'],
    });
    assert.equal(await component.runPrompts(['task', 'seed-customers', 'customer-server', 'true']), {
      kind: 'task',
      name: 'seed-customers',
      uses: ['customer-server'],
      'dry-run': true,
    });
    assert.equal(await component.runPrompts(['task', 'seed', 'orders, customer-server,']), {
      kind: 'task',
      name: 'seed',
      uses: ['orders', 'customer-server'],
    });
    assert.equal(await component.runPrompts(['task', 'seed', '']), { kind: 'task', name: 'seed', uses: [] });
    // A given kind or name is refused as the planner refuses it.
    const refusal = (bypass: string[]) =>
      component.runPrompts(bypass).then(
        () => `answered: ${bypass.join(' ')}`,
        (err: Error) => err.message,
      );
    assert.is(
      await refusal(['queue', 'jobs']),
      'Nothing was written. Fix this and run it again:\n  - the kind must be one of store, api, task, worker, topic, cron, not "queue"',
    );
    assert.match(
      await refusal(['store', 'Bad Name!']),
      /^Nothing was written\. Fix this and run it again:\n {2}- "Bad Name!" is not a kebab-case name.*e\.g\. "bad-name"$/,
    );
    assert.match(await refusal(['store', 'orders', '', 'maybe']), /The "dry-run" prompt did not recognize "maybe"/);
    // Without a terminal nothing is asked, and a missing answer stops the actions: nothing written.
    const before = snapshot(dir);
    const answers = await component.runPrompts(['store']);
    assert.equal(answers, { kind: 'store' });
    await component.runActions(answers).then(
      () => assert.unreachable('it must not run without a name'),
      (err: Error) =>
        assert.match(
          err.message,
          /^No terminal to ask for the name: give it on the command line, e.g. npx plop component/,
        ),
    );
    assert.equal(snapshot(dir), before);

    // In a terminal: what the command line gave is not asked, and a store is not asked what it
    // uses (its checkbox has nothing to offer); none has a `when` function, which plop would not fill.
    const asking = (await loadPlop(dir, [], true)).getGenerator('component');
    assert.equal(await asking.runPrompts(['store', 'orders']), { kind: 'store', name: 'orders', uses: [] });
    const questions = asking.prompts as Prompt[];
    assert.equal(
      questions.map((q) => q.name),
      ['kind', 'name', 'uses', 'dry-run'],
    );
    assert.equal(
      questions.map((q) => typeof q.when),
      ['undefined', 'undefined', 'undefined', 'boolean'],
    );
    // A typed name that is wrong is asked again with the problem (the given one is refused, above).
    const validateName = questions[1].validate!;
    assert.is(await validateName('orders', { kind: 'store' }), true);
    assert.match(String(await validateName('Bad Name!', { kind: 'store' })), /^"Bad Name!" is not a kebab-case name/);
  });
});

test("names: every derived form is checked with the runtime's own ID rules", () => {
  const context = { repoRoot, scope: ['my-app', 'components'] };
  assert.equal(checkName('orders', 'store', context), []);
  assert.equal(checkName('order-mailer', 'worker', context), []);
  assert.equal(checkName('a2-b3', 'api', context), []);
  for (const bad of ['Orders', 'orders_api', 'orders--api', '-orders', 'orders-', '2orders', 'ordérs', '']) {
    assert.is(checkName(bad, 'store', context).length, 1, bad);
  }
  // The longest name that keeps `my-app--components--<name>--password` within 63 characters.
  assert.equal(checkName('x'.repeat(33), 'store', context), []);
  assert.match(checkName('x'.repeat(34), 'store', context).join(), /at most 33 characters/);
  // A task has no child IDs, so its name may be longer.
  assert.equal(checkName('x'.repeat(43), 'task', context), []);
});

test('the real command line with stdin closed: exit codes, a repeat or a bad name changes nothing, a dry run writes nothing', async () => {
  await withCopy(async (dir) => {
    const plop = (...args: string[]) =>
      run('npx', ['plop', ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', PLOP_DRY_RUN: '' } }).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({
          code: err.code,
          output: err.stdout + err.stderr,
        }),
      );
    // execFile gives the child no terminal and an empty, closed stdin (like `</dev/null`).
    const made = await plop('component', 'store', 'orders', '--dest', dir);
    assert.is(made.code, 0, made.output);
    assert.ok(existsSync(join(dir, 'src', 'components', 'orders.ts')));
    const task = await plop('component', 'task', 'seed-orders', '--dest', dir, '--', '--uses', 'orders');
    assert.is(task.code, 0, task.output);
    assert.match(
      readFileSync(join(dir, 'src', 'components', 'index.ts'), 'utf8'),
      /createSeedOrders\(id`seed-orders`, \{ orders \}\)/,
    );
    const customers = await plop(
      'component',
      'task',
      'seed-customers',
      '--dest',
      dir,
      '--',
      '--uses',
      'customer-server',
    );
    assert.is(customers.code, 0, customers.output);
    assert.match(
      readFileSync(join(dir, 'src', 'components', 'index.ts'), 'utf8'),
      /createSeedCustomers\(id`seed-customers`, \{ customerServer \}\)/,
    );

    const before = snapshot(dir);
    for (const args of [
      ['component', 'store', 'orders', '--dest', dir],
      ['component', 'store', 'Bad Name!', '--dest', dir],
      ['component', 'api', '--dest', dir],
      ['component', '--dest', dir],
    ]) {
      const outcome = await plop(...args);
      assert.is.not(outcome.code, 0, `${args.join(' ')}: ${outcome.output}`);
      assert.match(outcome.output, /Nothing was written|No terminal to ask/);
      assert.equal(snapshot(dir), before, args.join(' '));
    }
    const dry = await plop('component', 'api', 'orders-api', '--dest', dir, '--dry-run');
    assert.is(dry.code, 0, dry.output);
    assert.match(dry.output, /would create \S*orders-api\.ts/);
    assert.equal(snapshot(dir), before, 'the dry run wrote nothing');
  });
});

test('startInProcess, which generated tests use: one persona at a time, failures as npm start reports them, stop() ends workers', async () => {
  const id = rootId('helper');
  const failing = onDeploy(id`failing`, async () => {
    throw new Error('the API said no');
  });
  const waiting = new Worker(
    id`waiting`,
    ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  );
  const privateStore = new Store<string>(id`inner``db`);
  const run = startInProcess(id);
  await run.start(failing).then(
    () => assert.unreachable('the task failed'),
    (err: Error) => assert.match(err.message, /^Deploy task helper\.failing failed: the API said no$/),
  );
  await privateStore.set('k', 'outside any persona, like a debugger');
  await run
    .runAs(failing, () => privateStore.get('k'))
    .then(
      () => assert.unreachable('helper.failing is outside helper.inner'),
      (err: Error) => assert.match(err.message, /may not use Store helper\.inner\.db/),
    );
  const worker = run.start(waiting);
  await run.stop();
  await worker;
  await run.start(waiting).then(
    () => assert.unreachable('stopped'),
    (err: Error) => assert.match(err.message, /was stopped/),
  );
});

test.run();
