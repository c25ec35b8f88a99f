/**
 * The starter's app image, built for a benchmark: `npm run infra:build` writes the starter's
 * Dockerfile (and the repository's compose.yaml, as it always does), then this builds that
 * Dockerfile from the project root, as `docker compose build` does, under a tag of its own
 * (compose.yaml's image name is shared with the docker tests). `remove()` deletes it and the
 * images its build made, never one that was there before. Needs a Docker engine with the base
 * image; never pulls.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './child.ts';

export const run = promisify(execFile);

/** The environment of the build commands: none of a persona's or a test's own settings. */
export function buildEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['PERSONA', 'INFRA_BUILD_DIR', 'INFRA_PROJECT_ROOT', 'NODE_OPTIONS']) delete env[name];
  return env;
}

export interface AppImage {
  readonly tag: string;
  remove(): Promise<void>;
}

export async function buildAppImage(prefix: string): Promise<AppImage> {
  const env = buildEnvironment();
  await run('npm', ['run', 'infra:build'], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024 });
  const tag = `${prefix}:${randomBytes(4).toString('hex')}`;
  const dockerfile = join(repoRoot, 'starter', 'build', 'Dockerfile');
  const existing = new Set((await run('docker', ['images', '-a', '-q'])).stdout.split('\n').filter(Boolean));
  // The classic builder (this engine has no BuildKit): it prints each step's image ID.
  const { stdout } = await run('docker', ['build', '--pull=false', '-f', dockerfile, '-t', tag, '.'], {
    cwd: repoRoot,
    env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60_000,
  });
  const made = [...stdout.matchAll(/(?:---> |Successfully built )([0-9a-f]{12})\b/g)]
    .map((m) => m[1])
    .filter((id) => !existing.has(id));
  return {
    tag,
    async remove() {
      await run('docker', ['image', 'rm', tag]).catch(() => {});
      // The build stage's image is left untagged: remove what this build made, newest first.
      for (const id of made.reverse()) await run('docker', ['image', 'rm', id]).catch(() => {});
    },
  };
}
