/**
 * The app image against its base: `npm run infra:build` writes the starter's Dockerfile (and
 * the repository's compose.yaml, as it always does), then this builds that Dockerfile from the
 * project root, as `docker compose build` does, under a tag of its own (compose.yaml's image
 * name is shared with the docker tests), measures it with `docker image inspect`, and removes
 * it and the images its build made. Needs a Docker engine with the base image
 * `node:24-bookworm-slim`; never pulls.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { report } from './harness.ts';
import { repoRoot } from './child.ts';

const run = promisify(execFile);
const BASE = 'node:24-bookworm-slim';
/** What the app may add to its base: its production node_modules (no build-only packages) and compiled JavaScript. */
export const TARGET_MB_OVER_BASE = 15;

async function imageBytes(image: string): Promise<number> {
  const { stdout } = await run('docker', ['image', 'inspect', '-f', '{{.Size}}', image]);
  return Number(stdout.trim());
}

export async function benchImage(): Promise<void> {
  const env = { ...process.env };
  for (const name of ['PERSONA', 'INFRA_BUILD_DIR', 'INFRA_PROJECT_ROOT', 'NODE_OPTIONS']) delete env[name];
  await run('npm', ['run', 'infra:build'], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024 });
  const tag = `infra-bench-app:${randomBytes(4).toString('hex')}`;
  const dockerfile = join(repoRoot, 'starter', 'build', 'Dockerfile');
  const existing = new Set((await run('docker', ['images', '-a', '-q'])).stdout.split('\n').filter(Boolean));
  let made: string[] = [];
  try {
    // The classic builder (this engine has no BuildKit): it prints each step's image ID.
    const { stdout } = await run('docker', ['build', '--pull=false', '-f', dockerfile, '-t', tag, '.'], {
      cwd: repoRoot,
      env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 20 * 60_000,
    });
    made = [...stdout.matchAll(/(?:---> |Successfully built )([0-9a-f]{12})\b/g)]
      .map((m) => m[1])
      .filter((id) => !existing.has(id));
    const [ours, base] = [await imageBytes(tag), await imageBytes(BASE)];
    const MB = 1e6;
    report({
      name: `app image size (starter, ${BASE} base)`,
      ours: { value: ours / MB, unit: 'MB' },
      baseline: { value: base / MB, unit: `MB (${BASE})` },
      better: 'lower',
      // baseline / ours, for an image at most TARGET_MB_OVER_BASE over the base.
      target: base / (base + TARGET_MB_OVER_BASE * MB),
      targetText: `at most ${TARGET_MB_OVER_BASE} MB over the base`,
    });
    const over = (ours - base) / MB;
    console.log(
      `app image: ${over.toFixed(1)} MB over its base (the app's production node_modules and compiled JavaScript; ` +
        `target <= ${TARGET_MB_OVER_BASE} MB: ${over <= TARGET_MB_OVER_BASE ? 'met' : 'NOT met'})`,
    );
  } finally {
    await run('docker', ['image', 'rm', tag]).catch(() => {});
    // The build stage's image is left untagged: remove what this build made (newest first), never
    // an image that was there before.
    for (const id of made.reverse()) await run('docker', ['image', 'rm', id]).catch(() => {});
  }
}

if (import.meta.main) await benchImage();
