/**
 * A throwaway copy of this repository's project for tests that run the real starter through
 * npm (`npm run infra:build`, `npm run infra:local`) without touching the repository's own
 * build folder and compose.yaml: a temporary folder whose package files, runtime, starter
 * sources and node_modules are symbolic links to the repository's. Builds write into it.
 * (Docker cannot build from it: a build context does not follow links.)
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface TempProject {
  readonly root: string;
  readonly starter: string;
  readonly buildDir: string;
  remove(): void;
}

/** `copySources`: the starter's src/ is a copy, for a test that edits it (`npm run dev`'s), not a link. */
export function tempProject({ copySources = false }: { copySources?: boolean } = {}): TempProject {
  const root = mkdtempSync(join(tmpdir(), 'infra-project-'));
  for (const name of [
    'package.json',
    'package-lock.json',
    'tsconfig.base.json',
    'tsconfig.json',
    'runtime',
    'node_modules',
  ]) {
    symlinkSync(join(repoRoot, name), join(root, name));
  }
  const starter = join(root, 'starter');
  mkdirSync(starter);
  for (const name of ['package.json', 'tsconfig.json', 'src']) {
    if (name === 'src' && copySources)
      cpSync(join(repoRoot, 'starter', name), join(starter, name), { recursive: true });
    else symlinkSync(join(repoRoot, 'starter', name), join(starter, name));
  }
  return {
    root,
    starter,
    buildDir: join(starter, 'build'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of this process without the variables that would redirect a build, pick a persona
 * or a local PostgreSQL, or quieten its logs (`npm test` quietens its own: see package.json).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ['PERSONA', 'INFRA_BUILD_DIR', 'INFRA_PROJECT_ROOT', 'INFRA_LOCAL_PG_URL', 'LOG_LEVEL'])
    if (!(name in extra)) delete env[name];
  return env;
}

/** Runs a command to its end (killed after `timeoutMs`) and collects its output. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
