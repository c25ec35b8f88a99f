/**
 * Writing build outputs so that a build killed at any moment leaves each file either as it
 * was or as it should be, never half-written: a temporary file beside the target, with its
 * final mode, then renamed over it (a rename within one folder is atomic).
 *
 * Unlike the value file (secrets/value-file.ts), these files are not flushed to disk before
 * the rename: each is derived from the value file and the code, so a power cut can at worst
 * ask for `npm run infra:build` again, and a large app writes hundreds of them.
 */
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `text` to `path` atomically with `mode` (0600 for anything that holds a secret). */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  // A folder of secrets is private too.
  mkdirSync(dirname(path), { recursive: true, mode: mode === 0o600 ? 0o700 : 0o755 });
  const temp = `${path}.${process.pid}.tmp`;
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
