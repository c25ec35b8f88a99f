/**
 * Memory: resident memory (RSS) of the API persona process, idle and after a round-trip load,
 * against a bare Fastify script serving the same route, measured the same way. Target: at
 * most 1.3 times. Both run as compiled JavaScript, as in the app image (compiled.ts); a second
 * pair of lines gives the same from TypeScript source (type stripping, as `npm run infra:local`
 * and the tests run it). Each figure is the median of ROUNDS fresh process pairs.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { median, report, throughput } from './harness.ts';
import { benchDir, freePort, startServer, type ServerProcess } from './child.ts';
import { compiledServers } from './compiled.ts';
import { personaEnv, personaReady } from './servers/app-wiring.ts';
import { customer, TOKEN } from './servers/handler.ts';

const ROUNDS = 3;
const LOAD_CALLS = 100_000;
const IN_FLIGHT = 32;

interface Rss {
  idle: number;
  loaded: number;
}

/** Idle RSS (a second after start) and RSS after LOAD_CALLS calls, of one fresh server process. */
async function measure(start: (port: number) => Promise<ServerProcess>): Promise<Rss> {
  const port = await freePort();
  const server = await start(port);
  const pool = new Pool(server.url, { connections: 64 });
  try {
    await sleep(1000);
    const idle = server.rssMiB();
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const body = JSON.stringify(customer);
    await throughput(LOAD_CALLS, IN_FLIGHT, async () => {
      const response = await pool.request({ method: 'POST', path: '/customer', headers, body });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`${server.url} answered ${response.statusCode}`);
    });
    await sleep(1000);
    return { idle, loaded: server.rssMiB() };
  } finally {
    await pool.close();
    await server.stop();
  }
}

async function compare(mode: string, oursScript: string, fastifyScript: string): Promise<void> {
  const ours: Rss[] = [];
  const bare: Rss[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await measure((port) => startServer(oursScript, port, personaEnv(port), personaReady(port))));
    bare.push(await measure((port) => startServer(fastifyScript, port, { PORT: String(port) }, 'listening on')));
  }
  for (const [when, pick] of [
    ['idle', (r: Rss) => r.idle],
    [`after ${LOAD_CALLS / 1000}k calls`, (r: Rss) => r.loaded],
  ] as const) {
    report({
      name: `memory, API persona ${when} (${mode})`,
      ours: { value: median(ours.map(pick)), unit: 'MiB' },
      baseline: { value: median(bare.map(pick)), unit: 'MiB (bare Fastify script)' },
      better: 'lower',
      target: 1 / 1.3,
      targetText: 'RSS at most 1.3x',
    });
  }
}

export async function benchMemory(): Promise<void> {
  const compiled = await compiledServers();
  await compare('compiled JS, as in the image', compiled.app, compiled.fastify);
  await compare('TypeScript source', join(benchDir, 'servers', 'app.ts'), join(benchDir, 'servers', 'fastify-raw.ts'));
}

if (import.meta.main) await benchMemory();
