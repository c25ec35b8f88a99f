/**
 * Build: `infra:build` (the build persona, as its own process) for generated apps of 10, 100
 * and 1,000 components, and how the time grows. Target: 1,000 components in under 5 s,
 * growing no worse than linearly (the line compares 1,000 against 10 × the 100 time).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { median, report } from './harness.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..');

/** An app of `n` components: groups of one store, one API with two endpoints, and one task. */
function appSource(n: number): string {
  const groups = Math.max(1, Math.round(n / 3));
  return `import { rootId, Store, ApiServer, onDeploy, runPersona } from 'infra-generator';
const id = rootId('bench-app');
for (let i = 0; i < ${groups}; i++) {
  const group = id\`group-\${i}\`;
  const db = new Store(group\`db\`);
  const api = new ApiServer(group\`api\`);
  const put = api.defineEndpoint('/item', async (v: { k: string }) => db.set(v.k, v), { method: 'PUT' });
  api.defineEndpoint('/item', async (k: string) => db.get(k), { method: 'GET' });
  onDeploy(group\`seed\`, async () => put({ k: 'x' }), { uses: [api] });
}
runPersona();
`;
}

async function buildSeconds(n: number, rounds: number): Promise<number> {
  const dir = mkdtempSync(join(repoRoot, '.tmp-bench-build-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', private: true, type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), appSource(n));
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      await run(process.execPath, ['--conditions=source', join(dir, 'main.ts')], {
        cwd: dir,
        env: { ...process.env, PERSONA: 'build', INFRA_BUILD_DIR: join(dir, 'build'), INFRA_PROJECT_ROOT: dir },
        maxBuffer: 64 * 1024 * 1024,
      });
      times.push((performance.now() - start) / 1000);
    }
    return median(times);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchBuild(): Promise<void> {
  const t10 = await buildSeconds(10, 5);
  const t100 = await buildSeconds(100, 5);
  const t1000 = await buildSeconds(1000, 3);
  console.log(`build: 10 components ${t10.toFixed(2)} s, 100 components ${t100.toFixed(2)} s, 1000 components ${t1000.toFixed(2)} s (target: under 5 s)`);
  report({
    name: 'build growth 100 -> 1000 components',
    ours: { value: t1000, unit: 's' },
    baseline: { value: 10 * t100, unit: 's (10 x the 100-component time: linear growth)' },
    better: 'lower',
    target: 1,
  });
}

if (import.meta.main) await benchBuild();
