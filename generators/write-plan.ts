/**
 * Carrying out a plan all or nothing. Every file is first written in full to a temporary file
 * beside its target; then new files are linked into place (which fails rather than replace a
 * file that appeared meanwhile) and changed files are renamed over their targets (after
 * checking they still hold what the plan read). On any failure, every file already placed is
 * removed or restored, so the app is as it was.
 */
import {
  copyFileSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errors, GeneratorError } from './errors.ts';
import type { FileWrite } from './plan.ts';

const display = (path: string) => relative(process.cwd(), path) || path;

function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Places `temp` at `path` only if nothing is there; hard links are atomic, a copy is the fallback. */
function placeNew(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
    copyFileSync(temp, path, constants.COPYFILE_EXCL);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Writes every file of `writes`, or none of them; throws a GeneratorError saying what failed. */
export function writePlan(writes: readonly FileWrite[]): void {
  const temps = new Map<FileWrite, string>();
  const createdDirs: string[] = [];
  const created: string[] = [];
  const replaced: { path: string; before: string }[] = [];
  let current = '';
  try {
    for (const write of writes) {
      current = write.path;
      const dir = dirname(write.path);
      // Remember each folder made (deepest first), to remove it on rollback.
      const missing: string[] = [];
      for (let d = dir; !existsSync(d); d = dirname(d)) missing.push(d);
      if (missing.length) {
        mkdirSync(dir, { recursive: true });
        createdDirs.push(...missing);
      }
      const temp = tempBeside(write.path);
      writeFileSync(temp, write.content, { flag: 'wx' });
      temps.set(write, temp);
    }
    for (const write of writes) {
      current = write.path;
      const temp = temps.get(write)!;
      if (write.before === undefined) {
        placeNew(temp, write.path);
        created.push(write.path);
        removeQuietly(temp);
      } else {
        if (!existsSync(write.path) || readFileSync(write.path, 'utf8') !== write.before)
          throw errors.changedMeanwhile(display(write.path));
        renameSync(temp, write.path);
        replaced.push({ path: write.path, before: write.before });
      }
      temps.delete(write);
    }
  } catch (err) {
    rollback(created, replaced, [...temps.values()], createdDirs);
    if (err instanceof GeneratorError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw errors.invalid([
        `${display(current)} appeared while the generator ran: choose another name, or move that file away`,
      ]);
    throw errors.writeFailed(display(current), err);
  }
}

function rollback(
  created: string[],
  replaced: { path: string; before: string }[],
  temps: string[],
  createdDirs: string[],
): void {
  for (const path of created) removeQuietly(path);
  for (const { path, before } of replaced) {
    const temp = tempBeside(path);
    writeFileSync(temp, before);
    renameSync(temp, path);
  }
  for (const temp of temps) removeQuietly(temp);
  for (const dir of createdDirs) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty: something else is in it now; leave it.
    }
  }
}
