/**
 * The runtime bundle the app image runs (targets/dockerfile/runtime-bundle.ts), on its own: the
 * runtime bundled into a folder that holds nothing else (no node_modules but the package's
 * package.json and its bundle, as in the image once the packages only the bundle needed are
 * deleted), and the deployed-persona fixture run from there with the image's condition: an API
 * with its Store in PostgreSQL, a task calling it over HTTP. The image itself is tested by
 * test:docker; this one runs in `npm test`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { builtinModules } from 'node:module';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUNDLE_CONDITION,
  bundleRuntime,
  type BundleResult,
} from 'infra-generator/internal/targets/dockerfile/runtime-bundle';
import { freePort } from './support/free-port.ts';
import { startPersona, type PersonaProcess } from './support/persona-process.ts';
import { admin } from './support/pg-admin.ts';
import { counterClientEnv, startCounterApi } from './support/counter-fixture.ts';

const repoRoot = join(import.meta.dirname, '..');
const runtimeDir = join(repoRoot, 'runtime');
const fixtureDir = join(import.meta.dirname, 'fixtures', 'deployed-app');

const bundled = suite('runtime bundle');
let dir: string;
let result: BundleResult;
let entry: string;
let server: PersonaProcess | undefined;
const database = `bundle_${randomBytes(4).toString('hex')}`;
const token = randomBytes(16).toString('hex');

bundled.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'infra-bundle-'));
  const installed = join(dir, 'node_modules', 'infra-generator');
  mkdirSync(installed, { recursive: true });
  copyFileSync(join(runtimeDir, 'package.json'), join(installed, 'package.json'));
  // From the TypeScript source (the image bundles tsc's output of it, which test:docker runs).
  // TypeBox is the app's too (as in the starter): installed beside the runtime, and shared.
  const typebox = join(dir, 'node_modules', 'typebox');
  symlinkSync(join(repoRoot, 'node_modules', 'typebox'), typebox);
  result = await bundleRuntime({
    packageDir: runtimeDir,
    entry: 'src/index.ts',
    folder: join(installed, 'bundle'),
    shared: [typebox],
  });
  mkdirSync(join(dir, 'app'));
  for (const file of ['app.ts', 'main.ts']) copyFileSync(join(fixtureDir, file), join(dir, 'app', file));
  mkdirSync(join(dir, 'format-app'));
  copyFileSync(join(import.meta.dirname, 'fixtures', 'format-app', 'main.ts'), join(dir, 'format-app', 'main.ts'));
  entry = join(dir, 'app', 'main.ts');
  await admin(`CREATE DATABASE ${database}`);
});

bundled.after(async () => {
  await server?.kill();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
});

const start = (persona: string, env: Record<string, string>) =>
  startPersona(entry, persona, env, { conditions: BUNDLE_CONDITION, treeOf: join(fixtureDir, 'main.ts') });

bundled(
  'the bundle imports nothing from outside but Node, the optional dependencies and what the install lacks',
  () => {
    const optional = Object.keys(
      (JSON.parse(readFileSync(join(runtimeDir, 'package.json'), 'utf8')) as { optionalDependencies: object })
        .optionalDependencies,
    );
    const node = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
    const packageOf = (path: string) => path.split('/', path.startsWith('@') ? 2 : 1).join('/');
    const outside = result.imports.filter((path) => !node.has(path) && !optional.includes(packageOf(path)));
    // pg tries pg-native (libpq bindings), which nobody installs here; TypeBox is the app's too.
    assert.equal(outside, ['pg-native', 'typebox/compile']);
    // The persona's code is split from the modes and drivers it may not load.
    assert.ok(result.files > 10, `${result.files} files`);
  },
);

bundled('an API with its Store in PostgreSQL and a task calling it run from the bundle alone', async () => {
  const port = await freePort();
  server = await startCounterApi(start, port, token, database);
  const client = await start('fixture.client', counterClientEnv(port, token));
  const code = await client.exited;
  assert.is(client.stdout(), 'Counted visits: 5 (read back: 5)\n', client.stderr());
  assert.is(code, 0);
});

bundled("a TypeBox format the app registers checks the runtime's arguments: one TypeBox for both", async () => {
  // In one process (PERSONA unset): the argument is checked as deployed, by the same code.
  const app = await startPersona(join(dir, 'format-app', 'main.ts'), '', {}, { conditions: BUNDLE_CONDITION });
  assert.is(await app.exited, 0, app.stderr());
  assert.match(app.stdout(), 'good: good-slug');
  assert.match(
    app.stdout(),
    'bad: refused (Invalid argument to format-app.api (POST /echo): /slug must match format',
    app.stdout(),
  );
});

bundled("the build, run from the image's bundle, names the optional package it lacks", async () => {
  const build = await start('build', { INFRA_BUILD_DIR: join(dir, 'build') });
  assert.is(await build.exited, 1);
  assert.match(
    build.stderr(),
    /The build \(PERSONA=build\) needs the package (\S+), which is not installed: .* `npm install \1@[^`]+`/,
  );
});

bundled.run();
