/**
 * Persona processes of the local-processes mode: each started with its own environment, its
 * output lines prefixed by its name (as `docker compose up` does), and stopped politely
 * (SIGTERM), then firmly (SIGKILL) when it does not stop within a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Logger } from '../../core/logger.ts';

export interface PersonaProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves to the exit code (128 + the signal's number when a signal ended it). */
  readonly exited: Promise<number>;
  readonly running: boolean;
  /** Its last lines on standard error (a few), to say why it failed. */
  readonly lastErrors: readonly string[];
}

/** How many of a process's last standard error lines are kept. */
const LAST_ERRORS = 20;

export interface StartOptions {
  name: string;
  /** The prefix of its output lines (the name, padded so the columns line up). */
  label: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Logger;
}

export function startProcess(options: StartOptions): PersonaProcess {
  const { name, label, log } = options;
  const child = spawn(options.command, options.args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let running = true;
  const lastErrors: string[] = [];
  const prefix = (stream: NodeJS.ReadableStream, write: (line: string) => void) =>
    new Promise<void>((resolve) =>
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', write).on('close', resolve),
    );
  const output = Promise.all([
    prefix(child.stdout!, (line) => log.info(`${label} | ${line}`)),
    prefix(child.stderr!, (line) => {
      lastErrors.push(line);
      if (lastErrors.length > LAST_ERRORS) lastErrors.shift();
      log.error(`${label} | ${line}`);
    }),
  ]);
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      running = false;
      log.error(`${label} | could not start: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      running = false;
      const status = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
      // Report the exit after the process's last lines.
      void output.then(() => {
        log.info(`${label} | exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
        resolve(status);
      });
    });
  });
  return {
    name,
    child,
    exited,
    lastErrors,
    get running() {
      return running;
    },
  };
}

/** Stops every running process: SIGTERM, and SIGKILL for those still running after `graceMs`. */
export async function stopProcesses(processes: readonly PersonaProcess[], graceMs: number): Promise<void> {
  const running = processes.filter((p) => p.running);
  for (const p of running) p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([Promise.all(running.map((p) => p.exited)), graceOver]);
  clearTimeout(timer);
  for (const p of running) if (p.running) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
}
