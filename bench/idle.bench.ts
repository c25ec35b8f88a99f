/**
 * What an idle API container costs, in CPU over a minute: compose starts its health check every
 * 2 s for the container's whole life. Three containers of the starter's app image run its API
 * persona at once, with the environment compose.yaml gives it, on no network, for the same
 * minute: with compose.yaml's own check (ours), with the `node -e "fetch(…)"` check the build
 * wrote before (the baseline), and with none (the floor: the idle persona itself). The CPU is
 * read from the engine's per-container counters (`GET /containers/{id}/stats`), which cover the
 * checks too (they run in the container's cgroup). Target: ours at most 1 % of a core.
 */
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { report } from './harness.ts';
import { buildAppImage, buildEnvironment, run } from './app-image.ts';
import { repoRoot } from './child.ts';
import type { ComposeFile, ComposeService } from 'infra-generator/internal/targets/compose/compose';

const WINDOW_MS = 60_000;
const TARGET_PERCENT = 1;

/** The Docker engine's API over its Unix socket (DOCKER_HOST=unix://…, or the default socket). */
function engine<T>(path: string): Promise<T> {
  const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) throw new Error(`idle bench: DOCKER_HOST ${host} is not a Unix socket`);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: host.slice('unix://'.length), path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(JSON.parse(body) as T)
          : reject(new Error(`${path}: ${res.statusCode} ${body}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The container's CPU time so far, in ns (its cgroup's, its health checks' processes included). */
async function cpuNs(id: string): Promise<number> {
  const stats = await engine<{ cpu_stats: { cpu_usage: { total_usage: number } } }>(
    `/containers/${id}/stats?stream=false`,
  );
  return stats.cpu_stats.cpu_usage.total_usage;
}

async function health(id: string): Promise<string | undefined> {
  const state = await engine<{ State: { Health?: { Status: string } } }>(`/containers/${id}/json`);
  return state.State.Health?.Status;
}

/** compose.yaml's API service, with the check it gives it, and its env files made absolute. */
function apiService(): ComposeService {
  const file = YAML.parse(readFileSync(join(repoRoot, 'compose.yaml'), 'utf8')) as ComposeFile;
  const found = Object.values(file.services).find(
    (s) => s.healthcheck !== undefined && s.image !== undefined && s.build !== undefined,
  );
  if (!found) throw new Error('idle bench: compose.yaml has no service of the app image with a health check');
  return { ...found, env_file: found.env_file?.map((f) => (isAbsolute(f) ? f : join(repoRoot, f))) };
}

/** The check the build wrote before this one: a new Node process that fetches the health route. */
function nodeFetchCheck(port: string): string[] {
  const script = `fetch('http://127.0.0.1:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return ['CMD', 'node', '-e', script];
}

export async function benchIdle(): Promise<void> {
  const image = await buildAppImage('infra-bench-idle');
  const folder = mkdtempSync(join(tmpdir(), 'infra-bench-idle-'));
  const project = `infra-bench-idle-${randomBytes(3).toString('hex')}`;
  const compose = (...args: string[]) =>
    run('docker-compose', ['-p', project, '-f', join(folder, 'compose.yaml'), ...args], {
      env: buildEnvironment(),
      maxBuffer: 16 * 1024 * 1024,
    });
  try {
    const api = apiService();
    const port = Object.entries(api.environment).find(([name]) => name.endsWith('__PORT'))![1];
    // The service as compose.yaml has it, on no network (nothing calls it), from this image.
    const variant = (healthcheck: ComposeService['healthcheck']) => {
      const service: Record<string, unknown> = { ...api, image: image.tag, network_mode: 'none', healthcheck };
      for (const field of ['build', 'depends_on', 'networks']) delete service[field];
      if (!healthcheck) delete service.healthcheck;
      return service;
    };
    const services = {
      ours: variant(api.healthcheck),
      baseline: variant({ ...api.healthcheck!, test: nodeFetchCheck(port) }),
      none: variant(undefined),
    };
    writeFileSync(join(folder, 'compose.yaml'), YAML.stringify({ services }));
    await compose('up', '-d', '--no-build');
    const ids = Object.fromEntries(
      await Promise.all(
        Object.keys(services).map(async (name) => [name, (await compose('ps', '-q', name)).stdout.trim()] as const),
      ),
    ) as Record<keyof typeof services, string>;
    // Both checked containers healthy (so each check passes), then a few seconds to settle.
    const until = Date.now() + 90_000;
    while ((await health(ids.ours)) !== 'healthy' || (await health(ids.baseline)) !== 'healthy') {
      if (Date.now() > until) throw new Error('idle bench: the containers did not become healthy within 90 s');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const start = await Promise.all([cpuNs(ids.ours), cpuNs(ids.baseline), cpuNs(ids.none)]);
    const startedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const end = await Promise.all([cpuNs(ids.ours), cpuNs(ids.baseline), cpuNs(ids.none)]);
    const elapsedNs = (performance.now() - startedAt) * 1e6;
    const [ours, baseline, none] = end.map((e, i) => ((e - start[i]!) / elapsedNs) * 100);
    report({
      name: 'idle API container, CPU over a minute, with its compose health check',
      ours: { value: ours!, unit: '% of a core' },
      baseline: { value: baseline!, unit: '% of a core (node -e fetch check)' },
      better: 'lower',
      // baseline / ours, for ours at most TARGET_PERCENT.
      target: baseline! / TARGET_PERCENT,
      targetText: `at most ${TARGET_PERCENT} % of a core`,
    });
    console.log(`idle API container with no health check: ${none!.toFixed(2)} % of a core (the persona's own floor)`);
  } finally {
    await compose('down', '-t', '5').catch(() => {});
    rmSync(folder, { recursive: true, force: true });
    await image.remove();
  }
}

if (import.meta.main) await benchIdle();
