/**
 * One build at a time: builds started together, as separate processes, end with one set of
 * secrets (one of them makes the values, the others wait and keep them); a lock left by a killed
 * build, or one not renewed for its staleness period, does not block the next build; a build
 * that waits too long gives up naming the holder and the lock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../support/seed.ts';
import { readEnvFile } from '../support/env-file.ts';
import { acquireBuildLock, buildLockPath, STALE_MS } from 'infra-generator/internal/modes/build/build-lock';

const test = suite('build lock');

const BUILDS = 5;
const GROUPS = 20;

/**
 * An app of GROUPS groups (a Store, an API, a task), and a value `hold` whose making, when
 * LOCK_HOLD names a file, writes that file and then blocks: a build stopped while it holds the lock.
 */
const appSource = `import { rootId, Store, ApiServer, onDeploy, runPersona, BuildTimeValue } from 'infra-generator';
import { writeFileSync } from 'node:fs';
const id = rootId('lock-app');
for (let i = 0; i < ${GROUPS}; i++) {
  const group = id\`group-\${i}\`;
  const db = new Store(group\`db\`);
  const api = new ApiServer(group\`api\`, { uses: [] });
  const put = api.defineEndpoint('/item', async (v: { k: string }) => db.set(v.k, v), { method: 'PUT' });
  onDeploy(group\`seed\`, async () => put({ k: 'x' }), { uses: [put] });
}
new BuildTimeValue(id\`hold\`, () => {
  if (process.env.LOCK_HOLD) {
    writeFileSync(process.env.LOCK_HOLD, String(process.pid));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  }
  return 'held';
});
runPersona();
`;

interface Project {
  readonly dir: string;
  readonly buildDir: string;
  remove(): void;
}

function project(): Project {
  const dir = mkdtempSync(join(repoRoot, '.tmp-build-lock-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'lock-app', private: true, type: 'module' }));
  writeFileSync(join(dir, 'main.ts'), appSource);
  return { dir, buildDir: join(dir, 'build'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

interface Build {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
  pid: number;
}

/** Runs the build persona of `p` as its own process. `started` is told the child's process. */
function build(
  p: Project,
  options: {
    args?: string[];
    env?: Record<string, string>;
    started?: (kill: (signal: NodeJS.Signals) => void) => void;
  } = {},
): Promise<Build> {
  const start = performance.now();
  const child = spawn(process.execPath, ['--conditions=source', join(p.dir, 'main.ts'), ...(options.args ?? [])], {
    cwd: p.dir,
    env: { ...process.env, PERSONA: 'build', INFRA_BUILD_DIR: p.buildDir, INFRA_PROJECT_ROOT: p.dir, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  options.started?.((signal) => child.kill(signal));
  return new Promise((resolve) =>
    child.once('close', (code, signal) =>
      resolve({ code, signal, output, ms: performance.now() - start, pid: child.pid! }),
    ),
  );
}

const values = (p: Project) =>
  JSON.parse(readFileSync(join(p.buildDir, 'values.json'), 'utf8')).values as Record<string, unknown>;

/** The ID a variable name derives from (`LOCK_APP__GROUP_0__DB__PASSWORD`: lock-app.group-0.db.password). */
const idOf = (name: string) =>
  name
    .toLowerCase()
    .split('__')
    .map((part) => part.replace(/_/g, '-'))
    .join('.');

/** Fails unless every password, token and port in every env file is the one values.json keeps. */
function assertEnvFilesAgree(p: Project): void {
  const kept = values(p);
  let checked = 0;
  const envDir = join(p.buildDir, 'env');
  for (const name of readdirSync(envDir)) {
    const service = name.replace(/\.env$/, '');
    for (const [variable, value] of Object.entries(readEnvFile(join(envDir, name)))) {
      let id: string | undefined;
      if (variable === 'POSTGRES_PASSWORD') id = `${service.split('--').join('.')}.password`;
      else if (/__(PASSWORD|TOKEN|PORT)$/.test(variable)) id = idOf(variable);
      if (id === undefined) continue;
      assert.ok(id in kept, `${name}: ${variable} is the value of ${id}, which values.json keeps`);
      assert.is(value, String(kept[id]), `${name}: ${variable} agrees with values.json`);
      checked++;
    }
  }
  // Every group: the database's password (twice, as owner), the API's token and port.
  assert.ok(checked >= GROUPS * 4, `checked ${checked} values`);
}

test(`${BUILDS} builds started at once end with one set of secrets`, async () => {
  const p = project();
  try {
    const builds = await Promise.all(Array.from({ length: BUILDS }, () => build(p)));
    for (const b of builds) assert.is(b.code, 0, b.output);
    const made = builds.filter((b) => /^Made \d+ new value/m.test(b.output));
    assert.is(
      made.length,
      1,
      `exactly one build made the values:\n${builds.map((b) => b.output.split('\n').find((l) => /^(Made|Kept) /.test(l))).join('\n')}`,
    );
    for (const b of builds) if (b !== made[0]) assert.match(b.output, /^Kept \d+ in build\/values\.json/m);
    const waited = builds.filter((b) => b.output.includes('Waiting for another build of lock-app (pid '));
    assert.ok(waited.length >= 1, 'at least one build waited for another');
    assert.match(
      waited[0].output,
      /Waiting for another build of lock-app \(pid \d+, started \d{4}-\d\d-\d\dT[\d:]+Z\) to finish: build\/values\.json\.lock$/m,
    );
    assertEnvFilesAgree(p);
    assert.not.ok(existsSync(buildLockPath(p.buildDir)), 'the lock is released');
  } finally {
    p.remove();
  }
});

test('a build killed while it holds the lock does not block the next one', async () => {
  const p = project();
  try {
    const marker = join(p.dir, 'holding');
    let kill: (signal: NodeJS.Signals) => void = () => {};
    const held = build(p, { env: { LOCK_HOLD: marker }, started: (k) => (kill = k) });
    for (let i = 0; !existsSync(marker); i++) {
      assert.ok(i < 600, 'the holding build reached its value in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    kill('SIGKILL');
    const killed = await held;
    assert.is(killed.signal, 'SIGKILL');
    assert.ok(existsSync(buildLockPath(p.buildDir)), 'the killed build left its lock');

    const next = await build(p);
    assert.is(next.code, 0, next.output);
    // Its holder's process is gone: taken over at once, not after the staleness period.
    assert.ok(next.ms < STALE_MS / 2, `took ${next.ms.toFixed(0)} ms`);
    assert.not.match(next.output, 'Waiting for');
    assert.is(values(p)['lock-app.hold'], 'held');
    assertEnvFilesAgree(p);
    assert.not.ok(existsSync(buildLockPath(p.buildDir)), 'the lock is released');
  } finally {
    p.remove();
  }
});

test('a lock not renewed for its staleness period is taken over, whoever holds it', async () => {
  const p = project();
  try {
    const lock = buildLockPath(p.buildDir);
    const old = new Date(Date.now() - 2 * STALE_MS);
    // One without a holder (killed as it was made), one of a build on another machine.
    for (const holder of [
      undefined,
      { pid: 1, host: 'another-machine', app: 'lock-app', started: old.toISOString(), token: 'x' },
    ]) {
      mkdirSync(lock, { recursive: true });
      if (holder) writeFileSync(join(lock, 'holder.json'), JSON.stringify(holder));
      utimesSync(lock, old, old);
      const next = await build(p);
      assert.is(next.code, 0, next.output);
      assert.ok(next.ms < STALE_MS / 2, `took ${next.ms.toFixed(0)} ms`);
      assert.not.ok(existsSync(lock), 'the lock is released');
    }
  } finally {
    p.remove();
  }
});

test('a build (or prune) that waits too long gives up, naming the holder and the lock, and writes nothing', async () => {
  const p = project();
  // This test's process holds the lock, as a build that does not finish would.
  const held = await acquireBuildLock(p.buildDir, { app: 'lock-app', log: { info() {}, error() {} } });
  try {
    for (const args of [[], ['--prune', '--yes']]) {
      const refused = await build(p, { args, env: { INFRA_BUILD_LOCK_TIMEOUT: '1' } });
      assert.is(refused.code, 1, refused.output);
      assert.match(refused.output, `Waiting for another build of lock-app (pid ${process.pid}, started `);
      assert.match(
        refused.output,
        /Gave up after waiting 1 s for another build of lock-app \(pid \d+, started [^)]+\) to finish: it holds the build lock build\/values\.json\.lock/,
      );
      assert.ok(refused.ms < 20_000, `gave up after ${refused.ms.toFixed(0)} ms`);
      assert.equal(readdirSync(p.buildDir), ['values.json.lock'], 'nothing written');
    }
    held.assertHeld();
  } finally {
    await held.release();
    p.remove();
  }
});

test.run();
