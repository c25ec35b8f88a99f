/**
 * One build at a time per build folder. Everything that writes the value file (`infra:build`,
 * with `--bind-store`/`--unbind-store`, and `infra:prune`) holds this lock from before the file
 * is loaded until the last file is written, so two builds started together cannot both make
 * new passwords and each write their own (a later one waits and then keeps the first one's).
 * The local runner only reads the value file and does not lock.
 *
 * The lock is proper-lockfile's: the directory `<build>/values.json.lock`, made with mkdir
 * (atomic), whose modification time the holder renews every UPDATE_MS. It holds one file,
 * `holder.json` (process ID, host, app, start time), written as the directory is made and
 * removed with it, so a waiting build can say whom it waits for. The lock is released in a
 * finally, and on SIGINT, SIGTERM or a normal exit by proper-lockfile's exit hook. A build that
 * is killed outright leaves it behind; the next build takes it over:
 *   - at once when the holder recorded in it was on this machine and its process is gone;
 *   - otherwise (no holder recorded, another machine sharing the folder, or a process ID taken
 *     by another program) when it has not been renewed for STALE_MS.
 * STALE_MS is generous because the holder renews from its event loop, which a large build
 * keeps busy for a few seconds at a time.
 *
 * A build that finds the lock held prints one line naming the holder and the lock, polls, and
 * gives up after INFRA_BUILD_LOCK_TIMEOUT seconds (default 120) with INFRA_BUILD_LOCKED.
 */
import {
  closeSync,
  mkdir,
  mkdirSync,
  openSync,
  readFileSync,
  rm,
  rmdir,
  rmdirSync,
  rmSync,
  stat,
  utimes,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { lock } from 'proper-lockfile';
import { errors } from '../../core/errors.ts';
import { valueFilePath } from '../../core/paths.ts';
import type { Logger } from '../../core/logger.ts';
import { processAlive } from '../../private/atomic-write.ts';

/** A lock not renewed for this long is taken over (proper-lockfile's `stale`). */
export const STALE_MS = 60_000;
/** How often the holder renews the lock (when its event loop is free). */
const UPDATE_MS = 10_000;
/** How long a build waits for another by default; INFRA_BUILD_LOCK_TIMEOUT (seconds) overrides. */
export const DEFAULT_TIMEOUT_MS = 120_000;
const POLL_MS = 100;
const HOLDER_FILE = 'holder.json';

/** Who holds a lock, as recorded in it. */
export interface Holder {
  readonly pid: number;
  readonly host: string;
  /** The root ID of the app being built. */
  readonly app: string;
  /** ISO time the lock was taken. */
  readonly started: string;
  /** Tells this holding apart from an earlier one of a process with the same ID. */
  readonly token: string;
}

export interface BuildLock {
  /** The lock directory. */
  readonly path: string;
  /** Throws INFRA_BUILD_LOCK_LOST unless this build still holds the lock (call it before writing). */
  assertHeld(): void;
  /** Releases the lock (again: nothing). */
  release(): Promise<void>;
}

export interface LockOptions {
  /** The root ID of the app, for the holder record and messages. */
  readonly app: string;
  readonly log: Logger;
  /** How a path is shown in messages (e.g. relative to the project root). */
  readonly show?: (path: string) => string;
  readonly timeoutMs?: number;
}

/** The lock directory of a build folder. */
export function buildLockPath(buildDir: string): string {
  return `${valueFilePath(buildDir)}.lock`;
}

/** The holder recorded in the lock at `lockPath`, if any (none while it is being made, or after it is gone). */
export function readHolder(lockPath: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(join(lockPath, HOLDER_FILE), 'utf8')) as Holder;
    return typeof holder?.pid === 'number' && typeof holder.token === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** `another build of my-app (pid 1234, started 2025-06-01T12:00:01Z)`, as messages name a holder. */
export function describeHolder(holder: Holder | undefined): string {
  if (!holder) return 'another build (it has not recorded its process yet)';
  const host = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `another build of ${holder.app} (pid ${holder.pid}${host}, started ${holder.started.replace(/\.\d+Z$/, 'Z')})`;
}

/** Whether the holder's process is certainly gone: it ran on this machine and no process has its ID. */
function holderGone(holder: Holder): boolean {
  return holder.host === hostname() && holder.pid !== process.pid && !processAlive(holder.pid);
}

type Callback = (err: NodeJS.ErrnoException | null) => void;

/**
 * The file system proper-lockfile is given: its lock directory holds the holder record, written
 * as the directory is made (before proper-lockfile notes the directory's time) and removed with
 * it wherever proper-lockfile removes the directory (release, take-over, exit hook).
 */
function lockFs(holder: Holder) {
  const remove = (path: string, callback: Callback) =>
    rm(join(path, HOLDER_FILE), { force: true }, () => rmdir(path, callback));
  return {
    mkdir(path: string, callback: Callback) {
      mkdir(path, (err) => {
        if (err) return callback(err);
        try {
          const fd = openSync(join(path, HOLDER_FILE), 'w', 0o644);
          try {
            writeSync(fd, JSON.stringify(holder) + '\n');
          } finally {
            closeSync(fd);
          }
        } catch (writeError) {
          return remove(path, () => callback(writeError as NodeJS.ErrnoException));
        }
        callback(null);
      });
    },
    rmdir: remove,
    rmdirSync(path: string) {
      rmSync(join(path, HOLDER_FILE), { force: true });
      rmdirSync(path);
    },
    stat,
    utimes,
  };
}

/**
 * Removes the lock a gone holder left, unless it changed hands meanwhile; whether to try the
 * lock again at once. Another build may take it over at the same moment; the holder record
 * tells them apart (assertHeld).
 */
function takeOver(lockPath: string, gone: Holder): boolean {
  if (readHolder(lockPath)?.token !== gone.token) return true; // changed hands: try again
  rmSync(join(lockPath, HOLDER_FILE), { force: true });
  try {
    rmdirSync(lockPath);
    return true;
  } catch (err) {
    // Gone already, or made again by another build: try again. Anything else: wait, as for a holder.
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
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
  const ensureFolder = () => {
    const first = mkdirSync(buildDir, { recursive: true });
    if (first !== undefined) made.add(first);
  };
  let compromised: Error | undefined;
  let release: (() => Promise<void>) | undefined;
  let said = false;
  ensureFolder();
  while (!release) {
    try {
      release = await lock(valueFilePath(buildDir), {
        realpath: false,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        fs: lockFs(holder),
        onCompromised: (err) => (compromised = err),
      });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The folder was removed by a build that wrote nothing and ended meanwhile.
      if (code === 'ENOENT') {
        ensureFolder();
        continue;
      }
      if (code !== 'ELOCKED') throw err;
    }
    const current = readHolder(lockPath);
    if (current && holderGone(current) && takeOver(lockPath, current)) continue;
    const who = describeHolder(current);
    if (Date.now() - start >= timeoutMs)
      throw errors.buildLocked(who, show(lockPath), Math.round((Date.now() - start) / 1000));
    // One line, naming the holder once it has recorded itself (it does so as it takes the lock).
    if (!said && (current || Date.now() - start > 1000)) {
      said = true;
      options.log.info(`Waiting for ${who} to finish: ${show(lockPath)}`);
    }
    await sleep(POLL_MS / 2 + Math.random() * POLL_MS);
  }
  let released = false;
  return {
    path: lockPath,
    assertHeld() {
      if (compromised || readHolder(lockPath)?.token !== holder.token)
        throw errors.buildLockLost(show(lockPath), STALE_MS / 1000);
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await release!();
      } catch {
        // Already taken over (compromised): it is not ours to remove.
      }
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
    },
  };
}

/** Runs `body` holding the build lock of `buildDir`; releases it however `body` ends. */
export async function withBuildLock<T>(
  buildDir: string,
  options: LockOptions,
  body: (lock: BuildLock) => Promise<T>,
): Promise<T> {
  const held = await acquireBuildLock(buildDir, options);
  try {
    return await body(held);
  } finally {
    await held.release();
  }
}
