/**
 * Our API server's CPU per call against raw Fastify's, both loaded at once (a tool, not a
 * benchmark: `npm run bench` does not run it). Sequential rounds on a machine with steal time
 * move by ±10 %; two servers under the same load at the same moment see the same machine, so
 * the ratio of their CPU per call holds to a percent or two. One undici client sends the same
 * POST to both, alternating, ROUNDS times CALLS calls; each server's CPU comes from /proc.
 *
 *   node --conditions=source bench/paired-api.ts
 *   LOG_LEVEL=warn SERVER_SCRIPT=/tmp/other-app.ts node --conditions=source bench/paired-api.ts
 *
 * LOG_LEVEL is handed to our persona (default info, as deployed); SERVER_SCRIPT runs another
 * script in place of bench/servers/app.ts (an older commit's, say) with the same environment.
 * TRACED=1 has our persona trace every call and export over OTLP to a discarding receiver in
 * this process, each call coming with a sampled traceparent as from a traced caller (the
 * OTEL_* variables of this environment reach it too: OTEL_METRICS_EXPORTER=none, say, or
 * OTEL_TRACES_SAMPLER=always_off for spans made and not sampled). With BASELINE=untraced the
 * other side is our server with telemetry not configured (the same calls, traceparent and all),
 * in place of raw Fastify: what tracing costs a server, both loaded at the same moment.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'undici';
import { benchDir, freePort, startServer, type ServerProcess } from './child.ts';
import { personaEnv, personaReady } from './servers/app-wiring.ts';
import { customer, TOKEN } from './servers/handler.ts';
import { discardingReceiver } from './api.bench.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CALLS = Number(process.env.CALLS ?? 40_000);
const IN_FLIGHT = 32;

interface Side {
  name: string;
  server: ServerProcess;
  pool: Pool;
}

async function start(name: string, script: string, env: Record<string, string>, port: number, ready: string) {
  // LOG_LEVEL as asked, else info (as deployed); startServer hands on the rest of this environment.
  const server = await startServer(script, port, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env }, ready);
  return { name, server, pool: new Pool(server.url, { connections: IN_FLIGHT }) };
}

const [oursPort, rawPort] = [await freePort(), await freePort()];
const receiver = process.env.TRACED === '1' ? await discardingReceiver() : undefined;
const tracing: Record<string, string> = receiver
  ? {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: process.env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on',
    }
  : {};
/** BASELINE=untraced: the other side is our server too, with telemetry not configured. */
const untracedBaseline = process.env.BASELINE === 'untraced';
/** This environment's OTEL_* variables emptied (startServer hands the rest on), as if unset. */
const untraced = Object.fromEntries(
  Object.keys(process.env)
    .filter((name) => name.startsWith('OTEL_'))
    .map((name) => [name, '']),
);
const oursScript = process.env.SERVER_SCRIPT ?? join(benchDir, 'servers', 'app.ts');
const sides: Side[] = [
  await start('ours', oursScript, { ...personaEnv(oursPort), ...tracing }, oursPort, personaReady(oursPort)),
  untracedBaseline
    ? await start('ours untraced', oursScript, { ...personaEnv(rawPort), ...untraced }, rawPort, personaReady(rawPort))
    : await start(
        'raw Fastify',
        join(benchDir, 'servers', 'fastify-raw.ts'),
        { PORT: String(rawPort) },
        rawPort,
        'listening on',
      ),
];
const [, baseline] = sides.map((side) => side.name);
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const body = JSON.stringify(customer);
const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
const call = async (side: Side) => {
  const sent = receiver ? { ...headers, traceparent: `00-${randomHex(16)}-${randomHex(8)}-01` } : headers;
  const response = await side.pool.request({ method: 'POST', path: '/customer', headers: sent, body });
  if (response.statusCode !== 200) throw new Error(`${side.name} answered ${response.statusCode}`);
  await response.body.text();
};

/** CALLS calls to each side, IN_FLIGHT at a time per side, so both are loaded all through. */
async function round(calls: number): Promise<number[]> {
  const before = sides.map((side) => side.server.cpuMs());
  await Promise.all(
    sides.map(async (side) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next++ < calls) await call(side);
        }),
      );
    }),
  );
  return sides.map((side, i) => ((side.server.cpuMs() - before[i]) * 1000) / calls);
}

await round(5_000);
const ratios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const [ours, raw] = await round(CALLS);
  ratios.push(ours / raw);
  console.log(
    `round ${i + 1}: ours ${ours.toFixed(1)} µs/call, ${baseline} ${raw.toFixed(1)} µs/call, ratio ${(ours / raw).toFixed(3)}`,
  );
}
ratios.sort((a, b) => a - b);
console.log(
  `median ratio of server CPU per call, ours / ${baseline}: ${ratios[Math.floor(ratios.length / 2)].toFixed(3)}`,
);
for (const side of sides) {
  await side.pool.close();
  await side.server.stop();
}
await receiver?.close();
