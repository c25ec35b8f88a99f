/**
 * The build killed (SIGKILL) at random points: the value file (build/values.json, every
 * password and port) must always be whole, parseable, private (0600) and keep every value it
 * had. Each round the app has one Store more than before, so each build has a new password to
 * add and really rewrites the file; some kills land before the write, some during, some after.
 */
import { groupsAppSource } from './support/groups-app.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from './support/seed.ts';

const ROUNDS = 30;
const GROUPS = 60;

/** An app of GROUPS groups (a Store, an API, a task) and FAULT_EXTRA extra Stores. */
const appSource = groupsAppSource(
  'kill-app',
  GROUPS,
  'for (let i = 0; i < Number(process.env.FAULT_EXTRA ?? 0); i++) new Store(id`extra-${i}`);',
);

interface Build {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stderr: string;
}

/** Runs the build persona with `extra` extra stores; kills it after `killAfterMs` when given. */
function build(dir: string, extra: number, killAfterMs?: number): Promise<Build> {
  const start = performance.now();
  const child = spawn(process.execPath, ['--conditions=source', join(dir, 'main.ts')], {
    cwd: dir,
    env: {
      ...process.env,
      PERSONA: 'build',
      INFRA_BUILD_DIR: join(dir, 'build'),
      INFRA_PROJECT_ROOT: dir,
      FAULT_EXTRA: String(extra),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: performance.now() - start, stderr });
    }),
  );
}

/** The value file's values; fails the test unless the file is whole JSON of the right shape and mode 0600. */
function readValues(path: string, what: string): Record<string, unknown> {
  assert.ok(existsSync(path), `${what}: ${path} exists`);
  assert.is(statSync(path).mode & 0o777, 0o600, `${what}: mode 0600`);
  const text = readFileSync(path, 'utf8');
  let parsed: { values?: unknown };
  try {
    parsed = JSON.parse(text) as { values?: unknown };
  } catch (err) {
    assert.unreachable(`${what}: values.json is not whole JSON (${(err as Error).message}): ${text.slice(-200)}`);
    throw err;
  }
  assert.type(parsed.values, 'object', what);
  return parsed.values as Record<string, unknown>;
}

/** The `*.tmp` files under `dir` (one level of subfolders too), relative to it. */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.tmp'))
    .sort();
}

/** The process ID of a process that has exited. */
function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', () => resolve(child.pid!)));
}

test('a build removes the temporary files killed builds left, and not those of a build still running', async () => {
  const dir = mkdtempSync(join(repoRoot, '.tmp-fault-build-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kill-app', private: true, type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), appSource);
    const first = await build(dir, 0);
    assert.is(first.code, 0, first.stderr);
    const envDir = join(dir, 'build', 'env');
    const envFile = readdirSync(envDir).find((n) => n.endsWith('.env'))!;
    const dead = await deadPid();
    const stale = [`values.json.${dead}.tmp`, join('env', `${envFile}.${dead}.tmp`)];
    // This test's own process stands for a build still running.
    const live = [`values.json.${process.pid}.tmp`, join('env', `${envFile}.${process.pid}.tmp`)];
    // Not of the build's naming: kept whatever its number.
    const foreign = ['notes.tmp', join('env', 'draft.tmp')];
    for (const name of [...stale, ...live, ...foreign])
      writeFileSync(join(dir, 'build', name), 'partial', { mode: 0o600 });

    const second = await build(dir, 0);
    assert.is(second.code, 0, second.stderr);
    assert.equal(tempFiles(join(dir, 'build')), [...live, ...foreign].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a build killed at random points always leaves the previous value file whole, private and with every value kept', async () => {
  const dir = mkdtempSync(join(repoRoot, '.tmp-fault-build-'));
  const valuesPath = join(dir, 'build', 'values.json');
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kill-app', private: true, type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), appSource);
    const first = await build(dir, 0);
    assert.is(first.code, 0, first.stderr);
    let previous = readValues(valuesPath, 'the first build');
    // The slower of two whole builds: one quick first build made every later one outlast its
    // kill point on a busy machine (30 of 30 killed, none to write the file).
    const again = await build(dir, 0);
    assert.is(again.code, 0, again.stderr);
    // Grows when a build outlasts it (below): on a machine busier than when it was measured, every
    // kill would otherwise land before the write.
    let fullBuildMs = Math.max(first.ms, again.ms);

    let completed = 0;
    let killed = 0;
    let rewritten = 0;
    // A seeded generator (mulberry32), so a failure can be replayed.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfterMs = random() * fullBuildMs * 1.5;
      const result = await build(dir, round, killAfterMs);
      const what = `round ${round} (killed after ${killAfterMs.toFixed(0)} ms)`;
      if (result.signal === 'SIGKILL') {
        killed++;
        if (killAfterMs > fullBuildMs) fullBuildMs = killAfterMs * 1.25;
      } else {
        assert.is(result.code, 0, `${what}: ${result.stderr}`);
        completed++;
      }
      const values = readValues(valuesPath, what);
      for (const [id, value] of Object.entries(previous))
        assert.equal(values[id], value, `${what}: ${id} kept its value`);
      const extras = Array.from({ length: round }, (_, i) => `kill-app.extra-${i}.password`);
      const added = Object.keys(values).filter((id) => !(id in previous));
      for (const id of added) assert.ok(extras.includes(id), `${what}: ${id} is one of the new stores' passwords`);
      if (added.length > 0) rewritten++;
      if (result.signal !== 'SIGKILL')
        for (const id of extras) assert.ok(id in values, `${what}: a build that finished wrote ${id}`);
      previous = values;
      // A killed build may leave its temporary file; it is as private as the file itself.
      for (const name of readdirSync(join(dir, 'build')).filter(
        (n) => n.startsWith('values.json.') && n.endsWith('.tmp'),
      )) {
        assert.is(statSync(join(dir, 'build', name)).mode & 0o777, 0o600, `${what}: ${name} is private`);
      }
    }
    // The seeded delays spread over the whole build: some builds are killed, some get to write.
    assert.ok(
      killed > 0 && rewritten > 0,
      `killed ${killed}, completed ${completed}, rewrote the file ${rewritten} times`,
    );
    // A build that finishes leaves no temporary file of a killed one, in the build folder or its env folder.
    const last = await build(dir, ROUNDS);
    assert.is(last.code, 0, last.stderr);
    assert.equal(tempFiles(join(dir, 'build')), [], 'no temporary file left after a finished build');
    if (process.env.FAULT_VERBOSE)
      console.log(`killed ${killed}, completed ${completed}, rewrote the file ${rewritten} times`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
