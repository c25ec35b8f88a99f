/**
 * Cold start: from spawning a process to its first answered request, for the API persona
 * (startup builds the tree, the platform starts Fastify) against a bare Fastify script
 * serving the same route. Alternating, ROUNDS each, medians; compiled JavaScript with the
 * runtime bundled, as in the image; compiled JavaScript with the runtime's modules from
 * node_modules; and from TypeScript source.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { alternate, report } from './harness.ts';
import { benchDir, freePort, repoRoot } from './child.ts';
import { compiledServers } from './compiled.ts';
import { BUNDLE_CONDITION } from 'infra-generator/internal/targets/dockerfile/runtime-bundle';
import { personaEnv } from './servers/app-wiring.ts';
import { customer, TOKEN } from './servers/handler.ts';

const ROUNDS = 11;

/** Milliseconds from spawn until POST /customer answers 200 (polling every millisecond or so). */
async function coldStart(
  script: string,
  env: (port: number) => Record<string, string>,
  conditions = 'source',
): Promise<number> {
  const port = await freePort();
  const start = performance.now();
  const child = spawn(process.execPath, [`--conditions=${conditions}`, script], {
    cwd: repoRoot,
    env: { ...process.env, ...env(port) },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${script} exited (${child.exitCode}) before answering`);
      const client = new Client(`http://127.0.0.1:${port}`);
      try {
        const response = await client.request({
          method: 'POST',
          path: '/customer',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(customer),
        });
        await response.body.text();
        if (response.statusCode === 200) return performance.now() - start;
      } catch {
        // Not listening yet.
      } finally {
        await client.destroy();
      }
      await sleep(1);
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

export async function benchColdStart(): Promise<void> {
  const compiled = await compiledServers();
  const source = { app: join(benchDir, 'servers', 'app.ts'), fastify: join(benchDir, 'servers', 'fastify-raw.ts') };
  const fastify = (port: number) => ({ PORT: String(port) });
  const runs = [
    { mode: 'compiled JS, runtime bundled, as in the image', scripts: compiled, conditions: BUNDLE_CONDITION },
    { mode: 'compiled JS, runtime from node_modules', scripts: compiled, conditions: 'source' },
    { mode: 'TypeScript source', scripts: source, conditions: 'source' },
  ];
  for (const [i, { mode, scripts, conditions }] of runs.entries()) {
    const result = await alternate(
      ROUNDS,
      () => coldStart(scripts.app, personaEnv, conditions),
      () => coldStart(scripts.fastify, fastify),
    );
    report({
      name: `cold start to first answer (${mode})`,
      ours: { value: result.ours, unit: 'ms' },
      baseline: { value: result.baseline, unit: 'ms (bare Fastify script)' },
      roundRatio: result.roundRatio,
      better: 'lower',
      // Issue 17: as in the image, within 1.2x of the bare script.
      ...(i === 0 ? { target: 1 / 1.2, targetText: 'at most 1.2x' } : {}),
    });
  }
}

if (import.meta.main) await benchColdStart();
