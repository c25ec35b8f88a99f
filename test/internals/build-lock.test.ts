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
  cpSync,
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
import { groupsAppSource } from '../support/groups-app.ts';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../support/seed.ts';
import { readEnvFile } from '../support/env-file.ts';
import { acquireBuildLock, buildLockPath, STALE_MS } from 'infra-generator/internal/modes/build-persona/build-lock';

const test = suite('build lock');

const BUILDS = 5;
const GROUPS = 20;

/**
 * An app of GROUPS groups (a Store, an API, a task), and a value `hold` whose making, when
 * LOCK_HOLD names a file, writes that file and then blocks (LOCK_HOLD_MS, default two minutes):
 * a build stopped while it holds the lock.
 */
const appSource = groupsAppSource(
  'lock-app',
  GROUPS,
  `new BuildTimeValue(id\`hold\`, () => {
  if (process.env.LOCK_HOLD) {
    writeFileSync(process.env.LOCK_HOLD, String(process.pid));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.LOCK_HOLD_MS ?? 120_000));
  }
  return 'held';
});`,
);

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

/**
 * A process that takes the build lock of the folder it is given. `hold`: takes it, says `held`
 * and keeps it until killed. `race`: reads a JSON list of start times from its standard input
 * (once every racer is `ready`), and at each tries to take the lock without waiting; the one that
 * gets it marks the time it holds it with the file `inside` (made only if it does not exist: two
 * holders at once would find it made), checks it still holds the lock and releases it. It prints
 * each round's outcome: `won`, or the error's code.
 */
const racerSource = `import { acquireBuildLock } from 'infra-generator/internal/modes/build-persona/build-lock';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
const [mode, buildDir, inside, holdMs] = process.argv.slice(2);
const log = { info() {}, error() {} };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
if (mode === 'hold') {
  await acquireBuildLock(buildDir, { app: 'lock-app', log });
  console.log('held');
  setInterval(() => {}, 60_000);
} else {
  console.log('ready');
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk) => (input += chunk));
  await once(process.stdin, 'end');
  for (const [round, at] of JSON.parse(input).entries()) {
    await sleep(at - 30 - Date.now());
    while (Date.now() < at); // every racer starts at the same moment
    let outcome = 'won';
    try {
      const lock = await acquireBuildLock(buildDir, { app: 'lock-app', log, timeoutMs: 0 });
      let alone = false;
      try {
        closeSync(openSync(inside, 'wx'));
        alone = true;
      } catch {
        outcome = 'held at once by two';
      }
      await sleep(at + Number(holdMs) - Date.now());
      try {
        lock.assertHeld();
      } catch (err) {
        outcome = err.code ?? String(err);
      }
      if (alone) unlinkSync(inside);
      await lock.release();
    } catch (err) {
      outcome = err.code ?? String(err);
    }
    console.log(JSON.stringify({ round, outcome }));
  }
}
`;

const RACERS = 6;
/** Rounds, each started by every racer at once: the old lock's race was lost in about one round of ten. */
const RACE_ROUNDS = Number(process.env.LOCK_RACE_ROUNDS ?? 60);
/**
 * How long a round's winner holds the lock: every other racer has tried by then, even on a
 * loaded machine (at 120 ms, a load average of 8 once let late racers find the lock released).
 */
const RACE_HOLD_MS = 300;
/** Time between rounds: the winner holds, then the dead build's lock is put back before the next. */
const RACE_PERIOD_MS = 700;

/** Runs the racer script of `p` in `mode`; `line` is told each line it prints. */
function racer(p: Project, args: string[], line: (text: string) => void) {
  const child = spawn(process.execPath, ['--conditions=source', join(p.dir, 'racer.mjs'), ...args], {
    cwd: p.dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const text of chunk.split('\n')) if (text) line(text);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, ended };
}

const until = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

test(`${RACERS} builds taking over a killed build's lock at the same moment: exactly one gets it`, async () => {
  const p = project();
  try {
    writeFileSync(join(p.dir, 'racer.mjs'), racerSource);
    const lock = buildLockPath(p.buildDir);
    const inside = join(p.dir, 'inside');
    // A lock whose holder was killed, kept to be put back before each round.
    let isHeld: () => void = () => {};
    const holding = new Promise<void>((resolve) => (isHeld = resolve));
    const holder = racer(p, ['hold', p.buildDir, inside], (text) => text === 'held' && isHeld());
    await Promise.race([holding, holder.ended]);
    holder.child.kill('SIGKILL');
    assert.is((await holder.ended).signal, 'SIGKILL', (await holder.ended).output);
    const dead = join(p.dir, 'dead-lock');
    cpSync(lock, dead, { recursive: true });

    let ready = 0;
    const rounds: string[][] = Array.from({ length: RACE_ROUNDS }, () => []);
    const racers = Array.from({ length: RACERS }, () =>
      racer(p, ['race', p.buildDir, inside, String(RACE_HOLD_MS)], (text) => {
        if (text === 'ready') ready++;
        else {
          const { round, outcome } = JSON.parse(text) as { round: number; outcome: string };
          rounds[round].push(outcome);
        }
      }),
    );
    for (let i = 0; ready < RACERS; i++) {
      assert.ok(i < 600, 'the racers started in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const first = Date.now() + 500;
    const starts = rounds.map((_, i) => first + i * RACE_PERIOD_MS);
    for (const r of racers) r.child.stdin!.end(JSON.stringify(starts));
    for (const at of starts) {
      await until(at - (RACE_PERIOD_MS - RACE_HOLD_MS) / 2);
      // The dead build's lock, as it left it (whatever the previous round left is not this test's).
      rmSync(lock, { recursive: true, force: true });
      rmSync(inside, { force: true });
      cpSync(dead, lock, { recursive: true });
    }
    for (const r of racers) {
      const ended = await r.ended;
      assert.is(ended.code, 0, ended.output);
    }
    const wrong = rounds
      .map((outcomes, round) => ({ round, outcomes: outcomes.sort() }))
      .filter(
        ({ outcomes }) =>
          outcomes.length !== RACERS ||
          outcomes.filter((o) => o === 'won').length !== 1 ||
          outcomes.some((o) => o !== 'won' && o !== 'INFRA_BUILD_LOCKED'),
      );
    assert.equal(
      wrong,
      [],
      `rounds where not exactly one racer got the lock (the others refused: INFRA_BUILD_LOCKED):\n${wrong.map((w) => `round ${w.round}: ${w.outcomes.join(', ')}`).join('\n')}`,
    );
  } finally {
    p.remove();
  }
});

for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`a build ended by ${signal} while it holds the lock releases it and ends by that signal (status ${status})`, async () => {
    const p = project();
    try {
      const marker = join(p.dir, 'holding');
      let kill: (signal: NodeJS.Signals) => void = () => {};
      // It holds the lock for a second (busy, as a large build is), and is told to stop meanwhile.
      const held = build(p, { env: { LOCK_HOLD: marker, LOCK_HOLD_MS: '1000' }, started: (k) => (kill = k) });
      for (let i = 0; !existsSync(marker); i++) {
        assert.ok(i < 600, 'the holding build reached its value in time');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      kill(signal);
      const ended = await held;
      // Ended by the signal, as a shell sees it (128 + its number), not by a normal exit.
      assert.is(ended.signal, signal, `ended with ${ended.code ?? ended.signal}: ${ended.output}`);
      assert.not.ok(existsSync(buildLockPath(p.buildDir)), 'the lock is released');

      const next = await build(p, { env: { INFRA_BUILD_LOCK_TIMEOUT: '5' } });
      assert.is(next.code, 0, next.output);
      assert.not.match(next.output, 'Waiting for');
    } finally {
      p.remove();
    }
  });
}

test('a lock not renewed for its staleness period is taken over, whoever holds it', async () => {
  const p = project();
  try {
    const lock = buildLockPath(p.buildDir);
    const old = new Date(Date.now() - 2 * STALE_MS);
    const elsewhere = { pid: 1, host: 'another-machine', app: 'lock-app', started: old.toISOString(), token: 'x' };
    // One without a holder (left by a build killed as it released it), one of a build on another
    // machine, the same as an earlier version made it, one whose file is no holder record.
    for (const [name, text] of [
      [undefined, ''],
      ['holder-x.json', JSON.stringify(elsewhere)],
      ['holder.json', JSON.stringify(elsewhere)],
      ['holder.json', 'not a holder record'],
    ] as const) {
      mkdirSync(lock, { recursive: true });
      if (name !== undefined) {
        writeFileSync(join(lock, name), text);
        utimesSync(join(lock, name), old, old);
      }
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

test('a lock renewed lately by a build on another machine is waited for', async () => {
  const p = project();
  try {
    const lock = buildLockPath(p.buildDir);
    const old = new Date(Date.now() - 2 * STALE_MS);
    const elsewhere = { pid: 1, host: 'another-machine', app: 'lock-app', started: old.toISOString(), token: 'y' };
    mkdirSync(lock, { recursive: true });
    writeFileSync(join(lock, 'holder-y.json'), JSON.stringify(elsewhere));
    // The folder is old; its holder's file, which the holder renews, is not.
    utimesSync(lock, old, old);
    const refused = await build(p, { env: { INFRA_BUILD_LOCK_TIMEOUT: '1' } });
    assert.is(refused.code, 1, refused.output);
    assert.match(
      refused.output,
      'Gave up after waiting 1 s for another build of lock-app (pid 1 on another-machine, started ',
    );
    assert.equal(readdirSync(lock), ['holder-y.json'], 'the lock is left to its holder');
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
    held.release();
    p.remove();
  }
});

test.run();
