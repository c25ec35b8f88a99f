/**
 * Build: `infra:build` (the build persona, as its own process) for generated apps of 10, 100,
 * 300 and 1,000 components, and how the time grows. Target: 1,000 components in under 5 s,
 * growing no worse than linearly: the growth line compares the time the components from 10 to
 * 1,000 add against the 10-to-300 slope extended to 1,000 (ratio 1: linear; well below 1:
 * faster than linear growth). Node's start and the build's fixed work cancel out of both.
 *
 * Two shapes of app: personas that declare the APIs they call (`uses`), and personas that
 * declare nothing, as in the proof of concept's example, which by the access rules may each
 * call every API: their tokens, URLs and networks then grow with the square of the APIs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { median, report } from './harness.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..');

type Shape = 'declared' | 'undeclared';

/** An app of `n` components: groups of one store, one API with two endpoints, and one task. */
function appSource(n: number, shape: Shape): string {
  const groups = Math.max(1, Math.round(n / 3));
  const apiOptions = shape === 'declared' ? ', { uses: [] }' : '';
  return `import { rootId, Store, ApiServer, onDeploy, runPersona } from 'infra-generator';
const id = rootId('bench-app');
for (let i = 0; i < ${groups}; i++) {
  const group = id\`group-\${i}\`;
  const db = new Store(group\`db\`);
  const api = new ApiServer(group\`api\`${apiOptions});
  const put = api.defineEndpoint('/item', async (v: { k: string }) => db.set(v.k, v), { method: 'PUT' });
  api.defineEndpoint('/item', async (k: string) => db.get(k), { method: 'GET' });
  onDeploy(group\`seed\`, async () => put({ k: 'x' }), { uses: [api] });
}
runPersona();
`;
}

async function buildSeconds(n: number, shape: Shape, rounds: number, args: string[] = []): Promise<number> {
  const dir = mkdtempSync(join(repoRoot, '.tmp-bench-build-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', private: true, type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), appSource(n, shape));
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      await run(process.execPath, ['--conditions=source', join(dir, 'main.ts'), ...args], {
        cwd: dir,
        env: { ...process.env, PERSONA: 'build', INFRA_BUILD_DIR: join(dir, 'build'), INFRA_PROJECT_ROOT: dir },
        maxBuffer: 256 * 1024 * 1024,
      });
      times.push((performance.now() - start) / 1000);
    }
    return median(times);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchBuild(): Promise<void> {
  for (const shape of ['declared', 'undeclared'] as const) {
    const label =
      shape === 'declared' ? 'personas declare the APIs they call' : 'no persona declares its APIs (each may call all)';
    const t10 = await buildSeconds(10, shape, 5);
    const t100 = await buildSeconds(100, shape, 5);
    const t300 = await buildSeconds(300, shape, 5);
    const t1000 = await buildSeconds(1000, shape, 3);
    console.log(
      `build (${label}): 10 components ${t10.toFixed(2)} s, 100 ${t100.toFixed(2)} s, 300 ${t300.toFixed(2)} s, 1000 ${t1000.toFixed(2)} s`,
    );
    report({
      name: `build of 1000 components (${label})`,
      ours: { value: t1000, unit: 's' },
      baseline: { value: 5, unit: 's (the target)' },
      better: 'lower',
      target: 1,
      targetText: 'under 5 s',
    });
    report({
      name: `build growth from 10 to 1000 components (${label})`,
      ours: { value: t1000 - t10, unit: 's' },
      baseline: { value: ((t300 - t10) * 990) / 290, unit: 's (the 10-to-300 slope, extended: linear growth)' },
      better: 'lower',
      // Build times on a shared machine vary by a few percent; 0.85 still tells linear from quadratic.
      target: 0.85,
      targetText: 'no worse than linear (15% for noise)',
    });
  }
  // The Kubernetes target writes and checks a manifest file per component besides compose's files.
  const k300 = await buildSeconds(300, 'undeclared', 3, ['--target', 'kubernetes']);
  const k1000 = await buildSeconds(1000, 'undeclared', 3, ['--target', 'kubernetes']);
  console.log(
    `build --target kubernetes (no persona declares its APIs): 300 components ${k300.toFixed(2)} s, 1000 ${k1000.toFixed(2)} s`,
  );
  report({
    name: 'build of 1000 components with --target kubernetes (no persona declares its APIs)',
    ours: { value: k1000, unit: 's' },
    baseline: { value: 5, unit: 's (the target)' },
    better: 'lower',
    target: 1,
    targetText: 'under 5 s',
  });
}

if (import.meta.main) await benchBuild();
