/**
 * `npm run dev` on a throwaway copy of the starter (its src/ copied, so a test may edit it):
 * started as the script runs it, its dashboard's address read from its output, and helpers to
 * ask the dashboard and wait for what it shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Overview } from 'infra-generator/internal/modes/dev-dashboard-api';
import { cleanEnv, repoRoot, tempProject, type TempProject } from './temp-project.ts';

export interface DevLoop {
  readonly project: TempProject;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly token: string;
  /** The dev loop's process. */
  readonly pid: number;
  /** What it printed so far. */
  output(): string;
  /** GET (or `init`) a dashboard route with the token; the parsed JSON and the status. */
  api<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  overview(): Promise<Overview>;
  /** Polls `check` until it returns something other than undefined or false, or throws after `timeoutMs`. */
  until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  stop(): Promise<number | null>;
  /**
   * After stop(): the processes still running in the project's folder (the app's, the personas'),
   * as `pid command line`. Read from /proc: on other systems, none.
   */
  leftovers(): string[];
}

/** The processes whose working directory is in `folder`. */
function processesIn(folder: string): string[] {
  if (!existsSync('/proc')) return [];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!realpathSync(`/proc/${pid}/cwd`).startsWith(folder)) continue;
      found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export async function startDevLoop(args: string[] = [], env: Record<string, string> = {}): Promise<DevLoop> {
  const project = tempProject({ copySources: true });
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', join(repoRoot, 'runtime', 'src', 'modes', 'dev', 'cli.ts'), 'src/main.ts', ...args],
    { cwd: project.starter, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run dev printed no address within 20 s:\n${output}`)), 20_000);
    const look = () => {
      const match = /Dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(new URL(match[1]!));
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`npm run dev exited (${child.exitCode}):\n${output}`));
      } else setTimeout(look, 50);
    };
    look();
  });
  let left: string[] = [];
  const base = address.origin;
  const token = address.searchParams.get('token')!;
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const until = async <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check().catch(() => undefined);
      if (value !== undefined && value !== false) return value as T;
      if (Date.now() > deadline) throw new Error(`Not within ${timeoutMs / 1000} s: ${what}\nOutput:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return {
    project,
    base,
    token,
    pid: child.pid!,
    output: () => output,
    api,
    overview: async () => (await api('/api/overview')).body as Overview,
    until,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      left = processesIn(realpathSync(project.root));
      project.remove();
      return code;
    },
    leftovers: () => left,
  };
}
