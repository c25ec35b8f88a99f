/**
 * Writing build outputs so that a build killed at any moment leaves each file either as it
 * was or as it should be, never half-written: a temporary file beside the target, with its
 * final mode, then renamed over it (a rename within one folder is atomic).
 *
 * Unlike the value file (values/value-file.ts), these files are not flushed to disk before
 * the rename: each is derived from the value file and the code, so a power cut can at worst
 * ask for `npm run infra:build` again, and a large app writes hundreds of them.
 *
 * A build killed between writing and renaming leaves its temporary file; the next build removes
 * those whose process is gone before it writes in that folder.
 */
import { processAlive } from './process.ts';
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** `<file>.<pid>.tmp`: the temporary file a build with that process ID writes beside `<file>`. */
const TEMP_NAME = /^.+\.(\d+)\.tmp$/;

/** The temporary file this process writes beside `path`. */
export function tempPathFor(path: string): string {
  removeStaleTemps(dirname(path));
  return `${path}.${process.pid}.tmp`;
}

const swept = new Set<string>();

/**
 * Removes, once per folder per process, the temporary files a killed build left in `dir`: those
 * of our naming whose process is gone. A live process's file is left alone (a build running at
 * the same time); a folder that does not exist yet has none.
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
    const pid = TEMP_NAME.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) rmSync(join(dir, name), { force: true });
  }
}

/** Writes `text` to `path` atomically with `mode` (0600 for anything that holds a secret). */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  // A folder of secrets is private too.
  mkdirSync(dirname(path), { recursive: true, mode: mode === 0o600 ? 0o700 : 0o755 });
  const temp = tempPathFor(path);
  try {
    writeFileSync(temp, text, { mode });
    // The mode writeFileSync gives is masked by the umask; a secret must not end up group-readable.
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
