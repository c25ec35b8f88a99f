/**
 * Where an API round trip's time goes (a tool, not a benchmark: `npm run bench` does not run it).
 * Runs our API persona or raw Fastify (the first argument, `ours` or `fastify`) under
 * `node --cpu-prof`, calls it CALLS times (default 100k) from this process with our client or
 * undici (the second argument, default the same as the first), and prints the rate and the CPU
 * per call of each side, the server's by thread. Run this script with --cpu-prof too for the
 * client's profile; bench/profile-summary.ts reads them.
 *
 *   node --conditions=source --cpu-prof --cpu-prof-dir=/tmp/prof/client bench/profile-api.ts ours fastify
 *   node --conditions=source bench/profile-summary.ts /tmp/prof/server 40
 *
 * GC_LOG=1 prints the bytes the server allocates per call (see gcLog below).
 * SERVER_PROF_DIR picks the server profile's folder (default /tmp/prof/server), PROFILE_INTERVAL_US
 * its sampling interval (default 1000 µs), SERVER_SCRIPT
 * another server script, WRAP a command to run the server under (strace, say). TRACED=1 traces
 * every call on both sides (ours), exported over OTLP to a discarding receiver in this process,
 * as the bench's traced row does (OTEL_TRACES_SAMPLER and _ARG choose another sampling).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startTelemetry } from 'infra-generator/internal/modes/telemetry-sdk';
import { throughput } from './harness.ts';
import { discardingReceiver } from './api.bench.ts';
import { benchDir, cpuMs, freePort, repoRoot } from './child.ts';
import { httpClientOf, personaEnv } from './servers/app-wiring.ts';
import { customer, TOKEN } from './servers/handler.ts';

const side = process.argv[2] ?? 'ours';
/** The client side may differ from the server side: `ours` against raw Fastify, say. */
const clientSide = process.argv[3] ?? side;
const CALLS = Number(process.env.CALLS ?? 100_000);
/** Calls in flight at once (default 32, as the benchmark); 1 or 2 leave the machine a core to spare. */
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 32);
const port = await freePort();
const traced = process.env.TRACED === '1';
const receiver = traced ? await discardingReceiver() : undefined;
const tracing = receiver
  ? {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: process.env.OTEL_TRACES_SAMPLER ?? 'always_on',
      OTEL_TRACES_SAMPLER_ARG: process.env.OTEL_TRACES_SAMPLER_ARG ?? '',
    }
  : {};
const serverDir = process.env.SERVER_PROF_DIR ?? '/tmp/prof/server';
const script =
  process.env.SERVER_SCRIPT ??
  (side === 'ours' ? join(benchDir, 'servers', 'app.ts') : join(benchDir, 'servers', 'fastify-raw.ts'));
const env = side === 'ours' ? personaEnv(port) : { PORT: String(port) };
/** PROFILE_SERVER=0: the server runs unprofiled (its CPU per call, by thread, is still printed). */
const profiling = process.env.PROFILE_SERVER !== '0';
/**
 * GC_LOG=1: the server's GCs logged (--trace-gc-nvp) and the bytes it allocates per call
 * printed, from the `allocated=` of each GC during the measured calls. Unlike its CPU time, a
 * count that the machine's load does not move: the measure to compare two versions by.
 */
const gcLog = process.env.GC_LOG === '1' ? join(mkdtempSync(join(tmpdir(), 'profile-api-')), 'gc.log') : undefined;
const child = spawn(
  process.env.WRAP ?? process.execPath,
  [
    ...(process.env.WRAP ? [process.execPath] : []),
    '--conditions=source',
    ...(gcLog ? ['--trace-gc-nvp'] : []),
    ...(profiling
      ? ['--cpu-prof', `--cpu-prof-dir=${serverDir}`, `--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US ?? 1000}`]
      : []),
    script,
  ],
  {
    cwd: repoRoot,
    env: { ...process.env, ...env, ...tracing },
    stdio: ['ignore', gcLog ? openSync(gcLog, 'w') : 'ignore', 'inherit'],
  },
);
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    await fetch(`${url}/healthz`);
    break;
  } catch {
    if (i > 100) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}
let call: () => Promise<unknown>;
/** Runs the load as the client persona (a deployed task's whole run is in it). */
let within = <T>(fn: () => Promise<T>): Promise<T> => fn();
let close: () => Promise<void>;
if (clientSide === 'ours') {
  const ours = httpClientOf(url);
  if (traced) {
    Object.assign(process.env, tracing);
    await startTelemetry({
      exporting: true,
      env: process.env,
      serviceName: ours.persona.id.value,
      app: 'bench-api',
      log: { info() {}, error: console.error },
    });
  }
  ({ call, within, close } = ours);
} else {
  const pool = new Pool(url, { connections: 64 });
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  call = async () => {
    const response = await pool.request({ method: 'POST', path: '/customer', headers, body: JSON.stringify(customer) });
    return JSON.parse(await response.body.text());
  };
  close = () => pool.close();
}
await within(() => throughput(5000, IN_FLIGHT, call));
const threadCpu = () => {
  const out: Record<string, number> = {};
  for (const task of readdirSync(`/proc/${child.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${child.pid}/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, 'N');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name + ' user'] = (out[name + ' user'] ?? 0) + Number(f[11]) * 10;
      out[name + ' sys'] = (out[name + ' sys'] ?? 0) + Number(f[12]) * 10;
    } catch {
      // The thread ended between the listing and the read: it has nothing more to say.
    }
  }
  return out;
};
/** The bytes the GC log says were allocated in its lines from `offset` on. */
const allocatedSince = (offset: number) =>
  gcLog === undefined
    ? 0
    : [
        ...readFileSync(gcLog, 'latin1')
          .slice(offset)
          .matchAll(/ allocated=(\d+)/g),
      ].reduce((sum, m) => sum + Number(m[1]), 0);
const gcLogBefore = gcLog === undefined ? 0 : statSync(gcLog).size;
const threadsBefore = threadCpu();
const before = process.cpuUsage();
const serverBefore = cpuMs(child.pid!);
const rate = await within(() => throughput(CALLS, IN_FLIGHT, call));
const used = process.cpuUsage(before);
const serverUsed = cpuMs(child.pid!) - serverBefore;
console.log(
  `${clientSide} client, ${side} server: ${rate.toFixed(0)} req/s, client CPU ${((used.user + used.system) / CALLS).toFixed(1)} µs/call, server CPU ${((serverUsed * 1000) / CALLS).toFixed(1)} µs/call`,
);
const threadsAfter = threadCpu();
console.log(
  Object.entries(threadsAfter)
    .map(([k, v]) => `${k} ${(((v - (threadsBefore[k] ?? 0)) * 1000) / CALLS).toFixed(1)}`)
    .join(', '),
  'µs/call by server thread',
);
if (gcLog !== undefined)
  console.log(`server allocated ${Math.round(allocatedSince(gcLogBefore) / CALLS)} bytes/call (GC_LOG=1, ${gcLog})`);
await close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await receiver?.close();
process.exit(0);
