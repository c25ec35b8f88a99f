/**
 * The app image against its base: the starter's image (app-image.ts), measured with
 * `docker image inspect`, then removed. Needs a Docker engine with the base image
 * `node:24-bookworm-slim`; never pulls.
 */
import { report } from './harness.ts';
import { buildAppImage, run } from './app-image.ts';

const BASE = 'node:24-bookworm-slim';
/**
 * What the app may add to its base: the runtime's bundle, the app's compiled JavaScript and its
 * own production packages (no build-only ones, none only the bundle needed). 15 MB before the
 * runtime was bundled; 4.4 MB after.
 */
export const TARGET_MB_OVER_BASE = 8;

async function imageBytes(image: string): Promise<number> {
  const { stdout } = await run('docker', ['image', 'inspect', '-f', '{{.Size}}', image]);
  return Number(stdout.trim());
}

export async function benchImage(): Promise<void> {
  const image = await buildAppImage('infra-bench-app');
  try {
    const [ours, base] = [await imageBytes(image.tag), await imageBytes(BASE)];
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
      `app image: ${over.toFixed(1)} MB over its base (the runtime's bundle, the app's compiled JavaScript and its own packages; ` +
        `target <= ${TARGET_MB_OVER_BASE} MB: ${over <= TARGET_MB_OVER_BASE ? 'met' : 'NOT met'})`,
    );
  } finally {
    await image.remove();
  }
}

if (import.meta.main) await benchImage();
