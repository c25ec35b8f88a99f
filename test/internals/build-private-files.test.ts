/**
 * The build's secrets stay the build's: its temporary files never write through a link planted
 * at a name someone could predict; the build folder, its env and Kubernetes folders and every
 * secret file in them are private whatever the umask; and the image build context never holds
 * them, wherever INFRA_BUILD_DIR puts the build folder (checked with a matcher of Docker's own
 * .dockerignore rules).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import dockerignoreModule from '@balena/dockerignore';
import { runPersona } from 'infra-generator';
import type { AppPaths } from 'infra-generator/internal/core/paths';
import { seedApp } from '../support/seed-app.ts';
import { groupsAppSource } from '../support/groups-app.ts';
import { repoRoot } from '../support/seed.ts';

const test = suite('build private files');

/** A temporary npm workspace project with an app package at app/; `buildDir` as given. */
function fixture(buildDir?: (root: string) => string): { root: string; paths: AppPaths; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'infra-private-'));
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('package.json', JSON.stringify({ name: 'fixture', private: true, workspaces: ['app'] }));
  write('package-lock.json', '{}');
  write('app/package.json', JSON.stringify({ name: 'app' }));
  write('app/tsconfig.json', JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'dist' } }));
  write('app/src/main.ts', '// the entry module (not run: the tests build apps defined in the test)\n');
  const appDir = join(root, 'app');
  return {
    root,
    paths: {
      entry: join(appDir, 'src', 'main.ts'),
      appDir,
      buildDir: buildDir?.(root) ?? join(appDir, 'build'),
      projectRoot: root,
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

async function build(
  paths: AppPaths,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const code = await runPersona({ root: seedApp(), persona: 'build', paths, args, env, log, setExitCode: false });
  return { code, output: lines.join('\n') };
}

/** Every file under `dir` (links included, not followed), absolute. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => !lstatSync(path).isDirectory());
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('temporary files are created exclusively: links planted at every name a build could predict are never written through', async () => {
  const f = fixture();
  const outside = mkdtempSync(join(tmpdir(), 'infra-victim-'));
  try {
    const first = await build(f.paths, ['--target', 'kubernetes']);
    assert.is(first.code, 0, first.output);
    const valuesPath = join(f.paths.buildDir, 'values.json');
    const values = readFileSync(valuesPath, 'utf8');
    // Every file the build writes, and the names a temporary file beside it could take from the
    // build's process ID (this process's: the build runs in it), the next one's and the previous one's.
    const written = [...filesUnder(f.paths.buildDir), join(f.root, 'compose.yaml'), join(f.root, '.dockerignore')];
    assert.ok(written.some((p) => p.endsWith('.env')) && written.some((p) => /kubernetes\/.*\.yaml$/.test(p)));
    const planted: { link: string; target: string }[] = [];
    let n = 0;
    for (const file of written)
      for (const pid of [process.pid, process.pid + 1, process.pid - 1]) {
        const link = `${file}.${pid}.tmp`;
        // Half to a file that exists, half to none (a write through a dangling link makes its target).
        const target = join(outside, `victim-${n++}`);
        if (n % 2 === 0) writeFileSync(target, 'untouched\n');
        symlinkSync(target, link);
        planted.push({ link, target });
      }

    const second = await build(f.paths, ['--target', 'kubernetes']);
    assert.is(second.code, 0, second.output);
    for (const [i, { target }] of planted.entries()) {
      if (i % 2 === 1) assert.is(readFileSync(target, 'utf8'), 'untouched\n', `${target} is left as it was`);
      else assert.not.ok(existsSync(target), `nothing made ${target} through a dangling link`);
    }
    assert.equal(readdirSync(outside).length, Math.floor(planted.length / 2));
    // The outputs are files of their own, not the links renamed over them, and the values are kept.
    for (const file of written) assert.ok(lstatSync(file).isFile(), `${file} is a file`);
    assert.is(readFileSync(valuesPath, 'utf8'), values);
    assert.is(mode(valuesPath), 0o600);
  } finally {
    f.remove();
    rmSync(outside, { recursive: true, force: true });
  }
});

/** The process ID of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

test("a build removes the temporary files of dead builds (random names too), never a live build's", async () => {
  const f = fixture();
  try {
    // Left before the build runs: a build sweeps each folder once (every build is a process of its own).
    const dead = deadPid();
    const build_ = (name: string) => join(f.paths.buildDir, name);
    const envFile = 'my-app--customer-server--api.env';
    const stale = [`values.json.${dead}.0123abcd4567ef89.tmp`, `env/${envFile}.${dead}.fedcba9876543210.tmp`];
    // A live build's (this process stands for one), also one whose random part is all digits:
    // read as `<file>.<pid>.tmp`, those digits would pass for a dead process's ID.
    const live = [`values.json.${process.pid}.0123abcd4567ef89.tmp`, `values.json.${process.pid}.1234567890123456.tmp`];
    mkdirSync(build_('env'), { recursive: true });
    for (const name of [...stale, ...live]) writeFileSync(build_(name), 'partial', { mode: 0o600 });
    const result = await build(f.paths);
    assert.is(result.code, 0, result.output);
    assert.ok(existsSync(build_(`env/${envFile}`)));
    for (const name of stale) assert.not.ok(existsSync(build_(name)), `${name} is removed`);
    for (const name of live) assert.ok(existsSync(build_(name)), `${name} is kept`);
  } finally {
    f.remove();
  }
});

test('with umask 000 the build folder, env and Kubernetes folders, value file, env files and Secrets are private', () => {
  const dir = mkdtempSync(join(repoRoot, '.tmp-private-build-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'priv-app', private: true, type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), groupsAppSource('priv-app', 2));
    const buildDir = join(dir, 'build');
    // A build folder and env folder that exist already with wide permissions (made by hand, or
    // by an older version) are narrowed too.
    mkdirSync(join(buildDir, 'env'), { recursive: true });
    chmodSync(buildDir, 0o777);
    chmodSync(join(buildDir, 'env'), 0o755);
    const result = spawnSync(
      'sh',
      ['-c', 'umask 000 && exec "$0" --conditions=source main.ts --target kubernetes', process.execPath],
      {
        cwd: dir,
        env: { ...process.env, PERSONA: 'build', INFRA_BUILD_DIR: buildDir, INFRA_PROJECT_ROOT: dir },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.is(result.status, 0, result.stderr);
    const kubernetes = join(buildDir, 'kubernetes');
    for (const folder of [buildDir, join(buildDir, 'env'), kubernetes])
      assert.is(mode(folder) & 0o077, 0, `${relative(dir, folder)} is private (mode ${mode(folder).toString(8)})`);
    const secrets = [
      join(buildDir, 'values.json'),
      ...filesUnder(join(buildDir, 'env')),
      ...filesUnder(kubernetes).filter((p) => /^kind: Secret$/m.test(readFileSync(p, 'utf8'))),
    ];
    assert.ok(secrets.filter((p) => p.startsWith(kubernetes)).length >= 2, 'the Kubernetes Secrets were checked');
    assert.ok(secrets.filter((p) => p.endsWith('.env')).length >= 2, 'the env files were checked');
    for (const file of secrets)
      assert.is(mode(file), 0o600, `${relative(dir, file)} is private (mode ${mode(file).toString(8)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A CommonJS module whose types declare only its `default` (which it also sets).
const dockerignore = dockerignoreModule.default;

/** Whether Docker leaves `path` (relative to the project root) out of the build context. */
function excluder(root: string): (path: string) => boolean {
  const ignore = dockerignore().add(readFileSync(join(root, '.dockerignore'), 'utf8').split('\n'));
  return (path) => ignore.ignores(path);
}

test('wherever the build folder is in the project, .dockerignore keeps every file of it out; the project root is refused', async () => {
  for (const where of ['app/build', 'deploy/secrets', 'build', 'app/src/build-out']) {
    const f = fixture((root) => join(root, ...where.split('/')));
    try {
      const result = await build(f.paths, ['--target', 'kubernetes']);
      assert.is(result.code, 0, result.output);
      const excluded = excluder(f.root);
      const files = filesUnder(f.paths.buildDir).map((p) => relative(f.root, p).split('\\').join('/'));
      for (const must of [`${where}/values.json`, `${where}/env/my-app--customer-server--api.env`])
        assert.ok(files.includes(must), `${where}: ${must} was written`);
      for (const file of files) assert.ok(excluded(file), `${where}: ${file} is left out of the image build context`);
      assert.not.ok(excluded('app/src/main.ts'), `${where}: the sources are in the context`);
    } finally {
      f.remove();
    }
  }
  const f = fixture((root) => root);
  try {
    const result = await build(f.paths);
    assert.is(result.code, 1, result.output);
    assert.match(result.output, /^The build folder .* is the project root, the image's build context/);
    assert.match(result.output, /INFRA_BUILD_DIR/);
    assert.equal(readdirSync(f.root).sort(), ['app', 'package-lock.json', 'package.json'], 'nothing was written');
  } finally {
    f.remove();
  }
});

test('a default build folder left behind stays out of the image build when INFRA_BUILD_DIR moves the build', async () => {
  const f = fixture((root) => join(root, 'app', 'build'));
  try {
    assert.is((await build(f.paths, ['--target', 'kubernetes'])).code, 0);
    const left = filesUnder(f.paths.buildDir).map((p) => relative(f.root, p).split('\\').join('/'));
    assert.ok(
      left.some((p) => p.startsWith('app/build/kubernetes/')),
      'Kubernetes manifests (with Secrets) were written',
    );
    const moved = await build({ ...f.paths, buildDir: join(f.root, 'deploy', 'out') });
    assert.is(moved.code, 0, moved.output);
    const excluded = excluder(f.root);
    // What holds a secret; the Dockerfile, the diagram and the resource record hold none.
    const secret = left.filter((p) => /^app\/build\/(values\.json|env\/|kubernetes\/)/.test(p));
    assert.ok(secret.length >= 5, secret.join(', '));
    for (const file of secret) assert.ok(excluded(file), `${file} is left out of the image build context`);
  } finally {
    f.remove();
  }
});

test('a build folder that holds the app itself is refused, and nothing is written', async () => {
  for (const where of ['app', '.']) {
    const f = fixture((root) => (where === '.' ? root : join(root, where)));
    try {
      const result = await build(f.paths);
      assert.is(result.code, 1, `${where}: ${result.output}`);
      assert.match(result.output, where === '.' ? /is the project root/ : /holds the app itself \(app\)/);
      assert.not.ok(existsSync(join(f.root, 'app', 'values.json')), `${where}: nothing was written`);
    } finally {
      f.remove();
    }
  }
});

test('a build folder whose path .dockerignore cannot name literally is refused, and nothing is written', async () => {
  for (const where of ['deploy/[secrets]', 'deploy/sec*rets', '#build', '!build']) {
    const f = fixture((root) => join(root, ...where.split('/')));
    try {
      const result = await build(f.paths);
      assert.is(result.code, 1, `${where}: ${result.output}`);
      assert.match(result.output, /cannot be named in \.dockerignore/, where);
      assert.not.ok(existsSync(join(f.paths.buildDir, 'values.json')), `${where}: nothing was written`);
      assert.not.ok(existsSync(join(f.root, '.dockerignore')), `${where}: nothing was written`);
    } finally {
      f.remove();
    }
  }
});

test('a shared (world-writable, sticky) build folder such as /tmp is refused, and left as it was', async () => {
  const shared = mkdtempSync(join(tmpdir(), 'infra-shared-'));
  chmodSync(shared, 0o1777);
  const f = fixture(() => shared);
  try {
    const result = await build(f.paths);
    assert.is(result.code, 1, result.output);
    assert.match(
      result.output,
      /is a shared folder \(world-writable, sticky, like \/tmp\).*INFRA_BUILD_DIR=.*app-build/,
    );
    assert.equal(readdirSync(shared), []);
    assert.is(statSync(shared).mode & 0o7777, 0o1777);
  } finally {
    f.remove();
    rmSync(shared, { recursive: true, force: true });
  }
});

test('a symbolic link planted at the build lock is refused, and what it points to is left alone', async () => {
  const f = fixture();
  const outside = mkdtempSync(join(tmpdir(), 'infra-victim-'));
  try {
    // A folder whose files look like a stale lock's holdings: a take-over would remove them.
    const old = new Date(Date.now() - 24 * 3600_000);
    writeFileSync(join(outside, 'precious.txt'), 'keep me\n');
    utimesSync(join(outside, 'precious.txt'), old, old);
    mkdirSync(f.paths.buildDir, { recursive: true });
    symlinkSync(outside, join(f.paths.buildDir, 'values.json.lock'));
    // Not to wait two minutes for the lock if the link is taken for one.
    const result = await build(f.paths, [], { INFRA_BUILD_LOCK_TIMEOUT: '1' });
    assert.is(result.code, 1, result.output);
    assert.match(result.output, /a symbolic link where the build keeps its lock .*values\.json\.lock.*Remove /s);
    assert.is(readFileSync(join(outside, 'precious.txt'), 'utf8'), 'keep me\n');
    assert.not.ok(existsSync(join(f.paths.buildDir, 'values.json')));
  } finally {
    f.remove();
    rmSync(outside, { recursive: true, force: true });
  }
});

test.run();
