/**
 * Watching the app's sources for `npm run dev`: Node's own recursive fs.watch (inotify on Linux,
 * FSEvents on macOS), with a burst of saves (an editor writing a temporary file then renaming it,
 * a formatter touching ten files, `git checkout`) told as one change once the folder has been
 * quiet for `quietMs`, or at the latest `maxWaitMs` after its first event.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * Not the app's sources: dependencies, git's files, the build's outputs (the app folder's
 * build/, not a folder of the sources that happens to be named so), editors' scratch files.
 * Paths are relative to the app's folder, with `/`.
 */
const IGNORED = [
  /(^|\/)node_modules(\/|$)/,
  /(^|\/)\.git(\/|$)/,
  /^build(\/|$)/,
  /~$/,
  /\.sw[px]$/,
  /(^|\/)\.#/,
  /\.tmp$/,
];

export function ignored(path: string): boolean {
  return IGNORED.some((pattern) => pattern.test(path));
}

export interface WatchOptions {
  /** The folders watched, recursively. */
  readonly folders: readonly string[];
  /** Paths are told relative to this folder. */
  readonly root: string;
  readonly quietMs?: number;
  readonly maxWaitMs?: number;
  /** One burst of changes: the files changed, sorted, relative to `root`. */
  readonly changed: (files: string[]) => void;
  /** The watching failed (too many watched files for the system, the folder removed): it has stopped. */
  readonly failed: (err: Error) => void;
}

export function watchSources(options: WatchOptions): { close(): void } {
  const { quietMs = 150, maxWaitMs = 1_000 } = options;
  let files = new Set<string>();
  let quiet: NodeJS.Timeout | undefined;
  let latest: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(quiet);
    clearTimeout(latest);
    quiet = latest = undefined;
    const burst = [...files].sort();
    files = new Set();
    if (burst.length > 0) options.changed(burst);
  };
  const watchers: FSWatcher[] = options.folders.map((folder) =>
    watch(folder, { recursive: true }, (_event, name) => {
      if (name === null) return;
      const path = relative(options.root, join(folder, name.toString())).split(sep).join('/');
      if (ignored(path)) return;
      files.add(path);
      clearTimeout(quiet);
      quiet = setTimeout(flush, quietMs);
      latest ??= setTimeout(flush, maxWaitMs);
    }).on('error', (err) => options.failed(err)),
  );
  return {
    close() {
      clearTimeout(quiet);
      clearTimeout(latest);
      for (const w of watchers) w.close();
    },
  };
}
