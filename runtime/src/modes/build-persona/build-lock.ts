/**
 * One build at a time per build folder. Everything that writes the value file (`infra:build`,
 * with `--bind-store`/`--unbind-store`, and `infra:prune`) holds this lock from before the file
 * is loaded until the last file is written, so two builds started together cannot both make
 * new passwords and each write their own (a later one waits and then keeps the first one's).
 * The local runner only reads the value file and does not lock.
 *
 * The lock is the folder `<build>/values.json.lock`. It holds one file, `holder-<token>.json`
 * (process ID, host, app, start time; the token is new for every holding), and that file is the
 * holding: its name says whose it is, and its modification time, which the holder renews every
 * UPDATE_MS, says whether it is alive. Every step is one atomic operation of the file system, and
 * nothing is ever removed by a build that is not sure whose it is:
 *   - take: a build makes a folder of its own beside the lock, writes its holder file into it
 *     and renames it to `values.json.lock`. A rename onto a folder that has a file in it fails,
 *     so of builds that try at once exactly one gets the lock, and the lock never exists
 *     without its holder file (an empty lock folder is free: anyone may remove it, since removing
 *     a folder that is not empty fails).
 *   - release: the holder removes its own holder file (by its name), then the folder if it is
 *     still empty (another build may hold it anew already; then that fails, as it should).
 *   - take over: a holder file whose holder is gone is removed by its name, then the folder if
 *     empty, and the build tries to take the lock as above. Of builds that take over the same
 *     holding at once, one removes the file and the others find it gone; none can remove the file
 *     of a holding made meanwhile, whose name is another. A holder is gone
 *       - at once when it ran on this machine and no process has its ID;
 *       - otherwise (another machine sharing the folder, a process ID taken by another program, a
 *         file that is not a holder record) when its file has not been renewed for STALE_MS.
 *     STALE_MS is generous because the holder renews from its event loop, which a large build
 *     keeps busy for a few seconds at a time.
 *   - check (`assertHeld`, before writing): the holder file is still there. A build suspended
 *     for longer than STALE_MS and taken over finds it gone and writes nothing.
 *
 * The lock goes with its build: it is released in a finally, and synchronously on exit and on
 * SIGINT, SIGTERM and SIGHUP, which then end the build as they would have (exit status 130, 143
 * or 129; an app that listens to the signal itself decides, and the lock goes when it exits). A
 * build killed outright leaves it behind; the next build takes it over as above.
 *
 * A build that finds the lock held prints one line naming the holder and the lock, polls, and
 * gives up after INFRA_BUILD_LOCK_TIMEOUT seconds (default 120) with INFRA_BUILD_LOCKED.
 */
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { errors } from '../../core/errors.ts';
import { valueFilePath } from '../../core/paths.ts';
import type { Logger } from '../../core/logger.ts';
import { processAlive } from '../../private/process.ts';
import { makePrivateFolder } from '../../private/atomic-write.ts';

/** A holder file not renewed for this long is taken over, whoever holds it. */
export const STALE_MS = 60_000;
/** How often the holder renews its holder file (when its event loop is free). */
const UPDATE_MS = 10_000;
/** How long a build waits for another by default; INFRA_BUILD_LOCK_TIMEOUT (seconds) overrides. */
const DEFAULT_TIMEOUT_MS = 120_000;
const POLL_MS = 100;
/** The signals that end a build: it releases the lock first, then the signal takes its course. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Who holds a lock, as recorded in it. */
export interface Holder {
  readonly pid: number;
  readonly host: string;
  /** The root ID of the app being built. */
  readonly app: string;
  /** ISO time the lock was taken. */
  readonly started: string;
  /** Names this holding's file, and tells it apart from an earlier one of a process with the same ID. */
  readonly token: string;
}

export interface BuildLock {
  /** The lock folder. */
  readonly path: string;
  /** Throws INFRA_BUILD_LOCK_LOST unless this build still holds the lock (call it before writing). */
  assertHeld(): void;
  /** Releases the lock, synchronously (again: nothing). */
  release(): void;
}

export interface LockOptions {
  /** The root ID of the app, for the holder record and messages. */
  readonly app: string;
  readonly log: Logger;
  /** How a path is shown in messages (e.g. relative to the project root). */
  readonly show?: (path: string) => string;
  readonly timeoutMs?: number;
}

/** The lock folder of a build folder. */
export function buildLockPath(buildDir: string): string {
  return `${valueFilePath(buildDir)}.lock`;
}

/** The name of a holding's file in the lock folder. */
const holderFileName = (token: string) => `holder-${token}.json`;

/** The folder a build prepares its holding in, beside the lock, before renaming it to the lock. */
const preparedPath = (lockPath: string, token: string) => `${lockPath}.${token}.new`;

/** A file in the lock folder: a holding (normally the only one). */
interface Entry {
  readonly name: string;
  /** Its record, unless it is not one (a file of some other program or version). */
  readonly holder: Holder | undefined;
  /** When its holder last renewed it (ms). */
  readonly renewed: number;
}

function parseHolder(path: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder> | null;
    return typeof holder?.pid === 'number' &&
      typeof holder.token === 'string' &&
      typeof holder.host === 'string' &&
      typeof holder.app === 'string' &&
      typeof holder.started === 'string'
      ? (holder as Holder)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a lock that is not a folder of its own: a symbolic link planted at its name would have
 * the build read, and remove the files of, whatever folder it points to (a take-over removes the
 * holdings it finds stale). `lstat`, which does not follow a link, is what tells.
 */
function refusePlanted(lockPath: string, show: (path: string) => string): void {
  let stats;
  try {
    stats = lstatSync(lockPath);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return;
    throw err;
  }
  if (stats.isDirectory()) return;
  throw errors.unsafeBuildFolder(
    show(dirname(lockPath)),
    `has ${stats.isSymbolicLink() ? 'a symbolic link' : 'a file'} where the build keeps its lock (${show(lockPath)}), which the build did not make`,
    `Remove ${show(lockPath)} and build again`,
  );
}

/** The files in the lock folder; undefined when there is no lock. */
function entries(lockPath: string, show: (path: string) => string): Entry[] | undefined {
  refusePlanted(lockPath, show);
  let names: string[];
  try {
    names = readdirSync(lockPath);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
  return names.flatMap((name) => {
    const path = join(lockPath, name);
    try {
      const renewed = statSync(path).mtimeMs;
      return [{ name, holder: parseHolder(path), renewed }];
    } catch {
      return []; // removed meanwhile
    }
  });
}

/** `another build of my-app (pid 1234, started 2025-06-01T12:00:01Z)`, as messages name a holder. */
function describeHolder(holder: Holder | undefined): string {
  if (!holder) return 'another build (its lock does not record which)';
  const host = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `another build of ${holder.app} (pid ${holder.pid}${host}, started ${holder.started.replace(/\.\d+Z$/, 'Z')})`;
}

/** Whether the holder's process is certainly gone: it ran on this machine and no process has its ID. */
function holderGone(holder: Holder): boolean {
  return holder.host === hostname() && !processAlive(holder.pid);
}

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

/** Removes the lock folder if it is empty; whether to look at the lock again at once. */
function removeIfEmpty(lockPath: string): boolean {
  try {
    rmdirSync(lockPath);
    return true;
  } catch (err) {
    // Gone already, or held anew meanwhile: look again. Anything else: wait, as for a holder.
    const code = codeOf(err);
    return code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST';
  }
}

/**
 * Removes the holdings in the lock folder if every one of them is gone or stale, then the
 * folder; whether to try the lock again at once (false: it is held, wait).
 */
function takeOver(lockPath: string, found: readonly Entry[]): boolean {
  const now = Date.now();
  if (!found.every((entry) => (entry.holder && holderGone(entry.holder)) || now - entry.renewed > STALE_MS))
    return false;
  for (const entry of found) {
    try {
      unlinkSync(join(lockPath, entry.name));
    } catch (err) {
      // Taken over by another build already: look again. Anything else: wait, as for a holder.
      return codeOf(err) === 'ENOENT';
    }
  }
  return removeIfEmpty(lockPath);
}

/**
 * One attempt to take the lock: a folder holding this build's holder file, renamed to the lock.
 * `missing` when the build folder is gone.
 */
function tryTake(lockPath: string, holder: Holder, show: (path: string) => string): 'taken' | 'held' | 'missing' {
  const prepared = preparedPath(lockPath, holder.token);
  try {
    mkdirSync(prepared);
    const fd = openSync(join(prepared, holderFileName(holder.token)), 'wx', 0o644);
    try {
      writeSync(fd, JSON.stringify(holder) + '\n');
    } finally {
      closeSync(fd);
    }
    renameSync(prepared, lockPath);
    return 'taken';
  } catch (err) {
    rmSync(prepared, { recursive: true, force: true });
    refusePlanted(lockPath, show);
    const code = codeOf(err);
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'held';
    // Some systems (Windows) refuse to rename a folder onto any existing one.
    if (existsSync(lockPath)) return 'held';
    throw err;
  }
}

/**
 * Removes the folders builds killed in the middle of an attempt left beside the lock (an attempt
 * lasts microseconds, so one that is STALE_MS old is abandoned).
 */
function removeAbandonedAttempts(buildDir: string, lockPath: string): void {
  const prefix = `${basename(lockPath)}.`;
  let names: string[];
  try {
    names = readdirSync(buildDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.new')) continue;
    const path = join(buildDir, name);
    try {
      // lstat: the age of a link planted here, not of what it points to (rmSync removes the link only).
      if (Date.now() - lstatSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile.
    }
  }
}

/** The wait allowed, from INFRA_BUILD_LOCK_TIMEOUT (seconds). */
export function lockTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.INFRA_BUILD_LOCK_TIMEOUT);
  return env.INFRA_BUILD_LOCK_TIMEOUT && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_TIMEOUT_MS;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the build lock of `buildDir` (making the folder if needed), waiting for another build
 * that holds it; throws INFRA_BUILD_LOCKED after `timeoutMs`.
 */
export async function acquireBuildLock(buildDir: string, options: LockOptions): Promise<BuildLock> {
  const show = options.show ?? ((path: string) => path);
  const lockPath = buildLockPath(buildDir);
  const holder: Holder = {
    pid: process.pid,
    host: hostname(),
    app: options.app,
    started: new Date().toISOString(),
    token: randomUUID(),
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const start = Date.now();
  // The folders this build made, to remove again if they are still empty when it ends (a build
  // refused before writing leaves no build folder).
  const made = new Set<string>();
  // Private (0700) whatever the umask: it holds every secret (private/atomic-write.ts).
  const ensureFolder = () => {
    const first = makePrivateFolder(buildDir);
    if (first !== undefined) made.add(first);
  };
  let said = false;
  ensureFolder();
  removeAbandonedAttempts(buildDir, lockPath);
  for (;;) {
    const attempt = tryTake(lockPath, holder, show);
    if (attempt === 'taken') break;
    // The folder was removed by a build that wrote nothing and ended meanwhile.
    if (attempt === 'missing') {
      ensureFolder();
      continue;
    }
    const found = entries(lockPath, show);
    // Released meanwhile, or left empty (by a release or take-over under way, or a build killed
    // during one), or every holding in it gone: try again at once.
    if (found === undefined) continue;
    if (found.length === 0 ? removeIfEmpty(lockPath) : takeOver(lockPath, found)) continue;
    const current = found.find((entry) => entry.holder)?.holder;
    const who = describeHolder(current);
    if (Date.now() - start >= timeoutMs)
      throw errors.buildLocked(who, show(lockPath), Math.round((Date.now() - start) / 1000));
    if (!said) {
      said = true;
      options.log.info(`Waiting for ${who} to finish: ${show(lockPath)}`);
    }
    await sleep(POLL_MS / 2 + Math.random() * POLL_MS);
  }
  return held(buildDir, lockPath, holder, made, show);
}

/** The release of each lock this process holds: run on exit and on a signal. */
const holding = new Set<() => void>();
let listening = false;

/**
 * A signal ends the process as if nobody listened to it (the process ends by it: exit status 128
 * + its number), once every lock is released; unless the program listens to it too: then the
 * program decides, and if it exits, the exit hook releases the locks.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listeners(signal).some((listener) => listener !== onSignal)) return;
  releaseAll();
  stopListening();
  process.kill(process.pid, signal);
}

function releaseAll(): void {
  for (const release of holding) release();
}

function listen(): void {
  if (listening) return;
  listening = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', releaseAll);
}

function stopListening(): void {
  if (!listening || holding.size > 0) return;
  listening = false;
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off('exit', releaseAll);
}

/** The lock just taken: renewed while held, released however the build ends. */
function held(
  buildDir: string,
  lockPath: string,
  holder: Holder,
  made: ReadonlySet<string>,
  show: (path: string) => string,
): BuildLock {
  const holderPath = join(lockPath, holderFileName(holder.token));
  let lost = false;
  let released = false;
  const renew = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(holderPath, now, now);
    } catch (err) {
      // Taken over (this build was suspended for longer than STALE_MS): never made again.
      if (codeOf(err) === 'ENOENT') lost = true;
    }
  }, UPDATE_MS);
  renew.unref();

  /** Releases the lock, synchronously (also on exit and on a signal). */
  const releaseNow = () => {
    if (released) return;
    released = true;
    holding.delete(releaseNow);
    clearInterval(renew);
    try {
      unlinkSync(holderPath);
    } catch {
      // Taken over: nothing of this build's is left in the lock.
    }
    // Fails if another build holds the lock anew already.
    removeIfEmpty(lockPath);
    // Each folder this build made, deepest first, if nothing was written into it.
    for (const top of made) {
      for (let dir = buildDir; ; dir = dirname(dir)) {
        try {
          rmdirSync(dir);
        } catch {
          break;
        }
        if (dir === top) break;
      }
    }
  };
  holding.add(releaseNow);
  listen();

  return {
    path: lockPath,
    assertHeld() {
      if (lost || released || !existsSync(holderPath)) throw errors.buildLockLost(show(lockPath), STALE_MS / 1000);
    },
    release() {
      if (released) return;
      releaseNow();
      // A signal that came while the build kept the event loop busy is handled on the loop's next
      // turn: it still ends the process by that signal (unheard, it would be lost).
      setImmediate(() => setImmediate(stopListening));
    },
  };
}

/** Runs `body` holding the build lock of `buildDir`; releases it however `body` ends. */
export async function withBuildLock<T>(
  buildDir: string,
  options: LockOptions,
  body: (lock: BuildLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireBuildLock(buildDir, options);
  try {
    return await body(lock);
  } finally {
    lock.release();
  }
}
