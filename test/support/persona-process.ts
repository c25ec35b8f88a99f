/**
 * A deployed persona as a child process, started with PERSONA and the wiring environment set
 * by hand (what compose or the local runner would set), with its output captured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { appOf, type ID } from 'infra-generator';
import { treeFingerprint, treeListing } from 'infra-generator/internal/core/fingerprint';
import { wiring } from 'infra-generator/internal/core/wiring';

export interface PersonaProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves to the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves when stdout has `text` (`count` times); rejects if the process exits first. */
  waitFor(text: string, count?: number): Promise<void>;
  /** SIGKILL, if it still runs; resolves once it has exited. */
  kill(): Promise<void>;
}

/**
 * This process's environment without what makes Node print to stderr by itself: with both
 * NO_COLOR and FORCE_COLOR set (a test runner sets the one, a user the other) Node warns that
 * one is ignored, and the tests read a persona's stderr as its own.
 */
export function quietEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // The test runner's own level (package.json) is not the personas'.
  delete env.LOG_LEVEL;
  if (env.NO_COLOR !== undefined && env.FORCE_COLOR !== undefined) delete env.FORCE_COLOR;
  return env;
}

const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

/**
 * The tree fingerprint the build gives every persona of the fixture whose `main.ts` is `entry`,
 * computed here from its tree (the `app.ts` beside it, whose root ID it exports as `id`), as
 * the build does. A deployed persona without one refuses to start.
 */
async function treeEnvironment(entry: string): Promise<Record<string, string>> {
  const app = join(dirname(entry), 'app.ts');
  if (!existsSync(app)) return {};
  const { id } = (await import(app)) as { id: ID };
  const listing = treeListing(appOf(id));
  return { [wiring.treeFingerprint]: treeFingerprint(listing), [wiring.treeListing]: JSON.stringify(listing) };
}

export interface StartOptions {
  /** Node's --conditions for the persona (default `source`, as the tests run; NODE_OPTIONS's are left out). */
  readonly conditions?: string;
  /** The fixture whose tree the persona has, when `entry` is a copy of its main.ts elsewhere. */
  readonly treeOf?: string;
}

/** Starts `persona` of the fixture `entry` with `env` (which may replace the tree fingerprint). */
export async function startPersona(
  entry: string,
  persona: string,
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<PersonaProcess> {
  // The conditions are the argument's alone: not also the test runner's (NODE_OPTIONS).
  const inherited = quietEnv();
  delete inherited.NODE_OPTIONS;
  const child = spawn(process.execPath, [`--conditions=${options.conditions ?? 'source'}`, entry], {
    env: { ...inherited, ...(await treeEnvironment(options.treeOf ?? entry)), PERSONA: persona, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { text: string; count: number; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of waiters.filter((w) => occurrences(out, w.text) >= w.count)) w.resolve();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (text, count = 1) =>
      occurrences(out, text) >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            // A test waiting for a line that never comes fails, showing the output, rather than hang.
            const timer = setTimeout(
              () => reject(new Error(`${persona} did not print ${JSON.stringify(text)} within 60 s:\n${out}\n${err}`)),
              60_000,
            );
            waiters.push({
              text,
              count,
              resolve: () => {
                clearTimeout(timer);
                resolve();
              },
            });
            void exited.then((code) => {
              clearTimeout(timer);
              reject(new Error(`${persona} exited (${code}) before printing ${JSON.stringify(text)}\n${out}\n${err}`));
            });
          }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
