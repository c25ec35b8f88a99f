/**
 * API round trip and memory.
 *
 * - Ours: the typed client function (the DeployedPlatform's HTTP client, as a deployed task
 *   calls it) against our ApiServer running as a persona process (PERSONA=bench-api.api).
 * - Baseline: raw Fastify serving the same handler, called through an undici Pool.
 * - Second baseline: the proof of concept's stack, Express + axios (keep-alive agent).
 * - Ours traced: the same, with every call traced (client and server spans, the server's access
 *   line) and exported over OTLP/HTTP to a receiver in this process that discards what it gets,
 *   against raw Fastify + undici again (which traces nothing); then with one call in ten traced
 *   (parent-based ratio sampling, as a production app would), against the same.
 * Each server is its own process (the client's event loop is this one); every client keeps
 * up to 64 connections and has IN_FLIGHT calls in flight. Every server checks the same bearer
 * token. The machine has few cores, so client and server compete for them the same way on
 * every side.
 * All run from TypeScript source (Node's type stripping); after warm-up that costs nothing.
 */
import http from 'node:http';
import { join } from 'node:path';
import axios from 'axios';
import { Pool } from 'undici';
import { startTelemetry } from 'infra-generator/internal/modes/telemetry-sdk';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { alternate, report, throughput } from './harness.ts';
import { benchDir, freePort, startServer, type ServerProcess } from './child.ts';
import { httpClientOf, personaEnv, personaReady } from './servers/app-wiring.ts';
import { customer, TOKEN } from './servers/handler.ts';

const IN_FLIGHT = 32;

/** An OTLP/HTTP receiver that reads and discards; its URL. */
export async function discardingReceiver(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    request.resume().on('end', () => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
const CALLS = 20_000;
const ROUNDS = 7;

export async function benchApi(): Promise<void> {
  const [oursPort, fastifyPort, expressPort] = [await freePort(), await freePort(), await freePort()];
  const servers: ServerProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const ours = await startServer(
      join(benchDir, 'servers', 'app.ts'),
      oursPort,
      personaEnv(oursPort),
      personaReady(oursPort),
    );
    servers.push(ours);
    const receiver = await discardingReceiver();
    closers.push(receiver.close);
    // Every call traced (the target's row), and one in ten, a usual production setting, both
    // sides sampling alike: the client's choice, which the server follows (parent-based).
    const exporting = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    const samplings: { label: string; tracing: Record<string, string>; target?: number }[] = [
      { label: 'every call traced', tracing: { ...exporting, OTEL_TRACES_SAMPLER: 'always_on' }, target: 0.75 },
      {
        label: 'one call in ten traced',
        tracing: { ...exporting, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
      },
    ];
    // The same API with an output schema: its answers checked and written by fast-json-stringify.
    const outputPort = await freePort();
    const withOutput = await startServer(
      join(benchDir, 'servers', 'app.ts'),
      outputPort,
      personaEnv(outputPort, true),
      personaReady(outputPort),
    );
    servers.push(withOutput);
    const tracedServers: ServerProcess[] = [];
    for (const { tracing } of samplings) {
      const port = await freePort();
      const server = await startServer(
        join(benchDir, 'servers', 'app.ts'),
        port,
        { ...personaEnv(port), ...tracing },
        personaReady(port),
      );
      servers.push(server);
      tracedServers.push(server);
    }
    const fastify = await startServer(
      join(benchDir, 'servers', 'fastify-raw.ts'),
      fastifyPort,
      { PORT: String(fastifyPort) },
      'listening on',
    );
    servers.push(fastify);
    const express = await startServer(
      join(benchDir, 'servers', 'express.ts'),
      expressPort,
      { PORT: String(expressPort) },
      'listening on',
    );
    servers.push(express);

    // Ours: this process plays the task that may call the API, as a deployed task would.
    const oursClient = httpClientOf(ours.url);
    closers.push(oursClient.close);
    const asClient = oursClient.within;
    const callOurs = oursClient.call;
    // The same client in another copy of the app for each traced server.
    const tracedClients = tracedServers.map((server) => httpClientOf(server.url));
    for (const traced of tracedClients) closers.push(traced.close);

    const pool = new Pool(fastify.url, { connections: 64 });
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const callFastify = async () => {
      const response = await pool.request({
        method: 'POST',
        path: '/customer',
        headers,
        body: JSON.stringify(customer),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`raw Fastify answered ${response.statusCode}: ${text}`);
      return JSON.parse(text) as unknown;
    };

    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const axiosClient = axios.create({
      baseURL: express.url,
      httpAgent: agent,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const callExpress = async () => (await axiosClient.post('/customer', customer)).data as unknown;

    try {
      for (const [side, call] of [
        ['ours', callOurs],
        ['raw Fastify', callFastify],
        ['Express', callExpress],
      ] as const) {
        const answer = JSON.stringify(await asClient(call));
        if (answer !== JSON.stringify({ ...customer, seen: true })) throw new Error(`${side} answered ${answer}`);
      }
      // Each side's CPU time per call, client (this process) and server, summed over its rounds:
      // steadier than the rates on a busy machine, and it shows which side costs what.
      const cpu = { ours: { client: 0, server: 0, calls: 0 }, fastify: { client: 0, server: 0, calls: 0 } };
      const timed = async (side: keyof typeof cpu, server: ServerProcess, call: () => Promise<unknown>) => {
        const client = process.cpuUsage();
        const serverBefore = server.cpuMs();
        const rate = await asClient(() => throughput(CALLS, IN_FLIGHT, call));
        const used = process.cpuUsage(client);
        cpu[side].client += (used.user + used.system) / 1000;
        cpu[side].server += server.cpuMs() - serverBefore;
        cpu[side].calls += CALLS;
        return rate;
      };
      const vsFastify = await alternate(
        ROUNDS,
        () => timed('ours', ours, callOurs),
        () => timed('fastify', fastify, callFastify),
      );
      report({
        name: `API round trip (POST, ${IN_FLIGHT} in flight, keep-alive)`,
        ours: { value: vsFastify.ours, unit: 'req/s' },
        baseline: { value: vsFastify.baseline, unit: 'req/s (raw Fastify + undici)' },
        roundRatio: vsFastify.roundRatio,
        better: 'higher',
        target: 0.9,
      });
      for (const part of ['client', 'server'] as const) {
        report({
          name: `API round trip, ${part} CPU per call`,
          ours: { value: (cpu.ours[part] / cpu.ours.calls) * 1000, unit: 'µs' },
          baseline: {
            value: (cpu.fastify[part] / cpu.fastify.calls) * 1000,
            unit: `µs (${part === 'client' ? 'undici' : 'raw Fastify'})`,
          },
          better: 'lower',
        });
      }
      const outputClient = httpClientOf(withOutput.url);
      closers.push(outputClient.close);
      if (JSON.stringify(await outputClient.within(outputClient.call)) !== JSON.stringify({ ...customer, seen: true }))
        throw new Error('the API with an output schema answered wrongly');
      const vsNoOutput = await alternate(
        ROUNDS,
        () => outputClient.within(() => throughput(CALLS, IN_FLIGHT, outputClient.call)),
        () => asClient(() => throughput(CALLS, IN_FLIGHT, callOurs)),
      );
      report({
        name: `API round trip with an output schema (checked, written by fast-json-stringify) vs without`,
        ours: { value: vsNoOutput.ours, unit: 'req/s' },
        baseline: { value: vsNoOutput.baseline, unit: 'req/s (no output schema: JSON.stringify)' },
        roundRatio: vsNoOutput.roundRatio,
        better: 'higher',
      });
      const vsExpress = await alternate(
        ROUNDS,
        () => asClient(() => throughput(CALLS, IN_FLIGHT, callOurs)),
        () => throughput(CALLS, IN_FLIGHT, callExpress),
      );
      report({
        name: `API round trip vs the proof of concept's stack (POST, ${IN_FLIGHT} in flight, keep-alive)`,
        ours: { value: vsExpress.ours, unit: 'req/s' },
        baseline: { value: vsExpress.baseline, unit: 'req/s (Express + axios)' },
        roundRatio: vsExpress.roundRatio,
        better: 'higher',
      });

      // Last, since the SDK each starts in this process stays registered until it is shut down.
      for (const [i, { label, tracing, target }] of samplings.entries()) {
        const saved = { ...process.env };
        Object.assign(process.env, tracing);
        const telemetry = await startTelemetry({
          exporting: true,
          env: process.env,
          serviceName: oursClient.persona.id.value,
          app: 'bench-api',
          log: { info() {}, error: console.error },
        });
        try {
          const { within, call } = tracedClients[i];
          if (JSON.stringify(await within(call)) !== JSON.stringify({ ...customer, seen: true }))
            throw new Error('the traced API answered wrongly');
          const vsTraced = await alternate(
            ROUNDS,
            () => within(() => throughput(CALLS, IN_FLIGHT, call)),
            () => throughput(CALLS, IN_FLIGHT, callFastify),
          );
          report({
            name: `API round trip, ${label} and exported over OTLP (POST, ${IN_FLIGHT} in flight)`,
            ours: { value: vsTraced.ours, unit: 'req/s' },
            baseline: { value: vsTraced.baseline, unit: 'req/s (raw Fastify + undici, untraced)' },
            roundRatio: vsTraced.roundRatio,
            better: 'higher',
            target,
          });
        } finally {
          await telemetry.shutdown();
          for (const api of [trace, metrics, propagation, context]) api.disable();
          for (const name of Object.keys(tracing)) if (saved[name] === undefined) delete process.env[name];
        }
      }
    } finally {
      await pool.close();
      agent.destroy();
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const close of closers) await close();
  }
}

if (import.meta.main) await benchApi();
