/**
 * What one traced server call costs the runtime's tracer alone (a tool, not a benchmark: `npm
 * run bench` does not run it): an `inSpan` outside any persona, as a server's span is made, a
 * frozen attribute set and a status code set on the span, N times in one process, first with
 * telemetry not configured, then exported over OTLP/HTTP in protobuf to a discarding receiver
 * in this process. No sockets but the export's, no other process: the figure holds to a few
 * percent from run to run, where the API benchmark's traced row moves by a third. Prints the
 * best of ROUNDS rounds, µs per call, and the exports' count and median time.
 *
 *   node --conditions=source bench/profile-span.ts
 *   N=200000 OTEL_TRACES_SAMPLER=always_off node --conditions=source bench/profile-span.ts
 *
 * The loop yields to the event loop every 128 calls, as a server between its sockets' reads
 * does, so that exports go out and the bounded queue does not drop spans (it says so if it does).
 */
import { SpanKind } from '@opentelemetry/api';
import { inSpan } from 'infra-generator/internal/core/telemetry/tracing';
import { startTelemetry } from 'infra-generator/internal/modes/telemetry-sdk';
import { discardingReceiver } from './api.bench.ts';

const N = Number(process.env.N ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const attributes = Object.freeze({ 'http.request.method': 'POST', 'http.route': '/customer', 'url.scheme': 'http' });

async function bestOfRounds(): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < N; i++) {
      if ((i & 127) === 0) await new Promise(setImmediate);
      await inSpan('POST /customer', SpanKind.SERVER, 'bench-api.api', attributes, async (span) => {
        span.setAttribute('http.response.status_code', 200);
        return i;
      });
    }
    best = Math.min(best, ((performance.now() - start) * 1000) / N);
  }
  return best;
}

const untraced = await bestOfRounds();
const receiver = await discardingReceiver();
// The SDK's OTLP transport reads its endpoint from process.env, whatever env startTelemetry is given.
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
process.env.OTEL_TRACES_SAMPLER ??= 'always_on';
process.env.OTEL_METRICS_EXPORTER ??= 'none';
const problems: string[] = [];
const telemetry = await startTelemetry({
  exporting: true,
  env: process.env,
  serviceName: 'bench-api.api',
  app: 'bench-api',
  log: { info() {}, error: (message: string) => problems.push(message) } as never,
});
const traced = await bestOfRounds();
await telemetry.shutdown();
await receiver.close();
console.log(
  `telemetry not configured: ${untraced.toFixed(2)} µs/call; ` +
    `${process.env.OTEL_TRACES_SAMPLER} and exported: ${traced.toFixed(2)} µs/call (+${(traced - untraced).toFixed(2)})`,
);
for (const problem of new Set(problems)) console.log(`the telemetry said: ${problem}`);
