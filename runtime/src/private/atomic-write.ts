/**
 * Writing build outputs so that a build killed at any moment leaves each file either as it
 * was or as it should be, never half-written: a temporary file beside the target, with its
 * final mode, then renamed over it (a rename within one folder is atomic, and replaces a link
 * at the target's name instead of writing through it).
 *
 * The temporary file's name holds a random part and it is created exclusively (O_CREAT|O_EXCL,
 * which fails on anything already at that name, a symbolic link included): someone who can
 * write in the folder cannot plant a link at a name they predicted and have the build write its
 * secrets through it. Its mode is set on the open file (fchmod), since the mode given to open()
 * is masked by the umask.
 *
 * A folder made for a secret (mode 0600) is private too (0700, whatever the umask): see
 * `makePrivateFolder`, which the build also uses to narrow its own folders.
 *
 * Only the value file (values/value-file.ts) is flushed to disk before the rename (`durable`):
 * every other file is derived from it and the code, so a power cut can at worst ask for
 * `npm run infra:build` again, and a large app writes hundreds of them.
 *
 * A build killed between writing and renaming leaves its temporary file; the next build removes
 * those whose process is gone before it writes in that folder.
 */
import { processAlive } from './process.ts';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  chmodSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** `<file>.<pid>.<16 hex digits>.tmp`: a temporary file a build with that process ID writes beside `<file>`. */
const TEMP_NAME = /^.+\.(\d+)\.[0-9a-f]{16}\.tmp$/;
/** `<file>.<pid>.tmp`: the naming of earlier versions, whose leftovers are removed alike. */
const OLD_TEMP_NAME = /^.+\.(\d+)\.tmp$/;

/** A new name for a temporary file beside `path`; nobody can know it in advance. */
function tempName(path: string): string {
  return `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
}

const swept = new Set<string>();

/**
 * Removes, once per folder per process, the temporary files a killed build left in `dir`: those
 * of our naming whose process is gone. A live process's file is left alone (a build running at
 * the same time); a folder that does not exist yet has none. Removing never follows a link.
 */
function removeStaleTemps(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    // The new naming first: its random part may be all digits, and then the old one would read it as the pid.
    const pid = (TEMP_NAME.exec(name) ?? OLD_TEMP_NAME.exec(name))?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) rmSync(join(dir, name), { force: true });
  }
}

/**
 * Makes `dir` (and its missing parents, with the usual mode) private: no group or other
 * permission. A folder made here is 0700 whatever the umask; one that exists with wider
 * permissions is narrowed unless `narrow` is false (the caller knows the folder is the build's
 * own: narrowing a folder the user shares would be a surprise). Returns the first folder it made, if any.
 */
export function makePrivateFolder(dir: string, { narrow = true }: { narrow?: boolean } = {}): string | undefined {
  let first = mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode: 0o700 });
    first ??= dir;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (!narrow) return first;
  const { mode } = lstatSync(dir);
  // mkdir's mode is masked by the umask (only ever narrowed), but a folder made by an older
  // version, or by hand, may be group- or world-readable. A shared folder (sticky, like /tmp) is
  // never narrowed: the build refuses one as its build folder (build-lock.ts).
  if ((mode & 0o077) !== 0 && (mode & 0o1000) === 0 && process.platform !== 'win32') chmodSync(dir, mode & 0o700);
  return first;
}

export interface WriteOptions {
  /** Flush the file, and its folder after the rename, to disk: it survives a power cut. */
  readonly durable?: boolean;
}

/** Writes `text` to `path` atomically with `mode` (0600 for anything that holds a secret). */
export function writeFileAtomic(path: string, text: string, mode = 0o644, options: WriteOptions = {}): void {
  const dir = dirname(path);
  // A folder made for secrets is private too; the build narrows its own existing folders itself.
  if (mode === 0o600) makePrivateFolder(dir, { narrow: false });
  else mkdirSync(dir, { recursive: true, mode: 0o755 });
  removeStaleTemps(dir);
  let temp = tempName(path);
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      // 'wx': O_CREAT|O_EXCL, so nothing already at the name (a planted link) is opened.
      fd = openSync(temp, 'wx', mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw err;
      temp = tempName(path);
    }
  }
  try {
    try {
      // open()'s mode is masked by the umask; a secret must not end up group-readable.
      fchmodSync(fd, mode);
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  if (options.durable) {
    const folder = openSync(dir, 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
  }
}
