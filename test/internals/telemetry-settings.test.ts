/**
 * The logging and OpenTelemetry settings a persona starts with: bad values stop it naming the
 * variable, telemetry is exported only when asked for, the SDK's warnings are rate-limited, and
 * the root logger redacts secrets and adds the context of the call.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { telemetrySettings } from 'infra-generator/internal/core/telemetry/settings';
import { rateLimitedDiag, startTelemetry } from 'infra-generator/internal/modes/telemetry-sdk';
import { log } from 'infra-generator';
import { withLogScope } from 'infra-generator/internal/core/telemetry/scope';
import { InfraError } from 'infra-generator';
import { recordTelemetry } from '../support/telemetry.ts';
import { trace } from '@opentelemetry/api';

const test = suite('telemetry settings');

const refused = (env: NodeJS.ProcessEnv, variable: string) => {
  try {
    telemetrySettings(env, false);
  } catch (err) {
    assert.ok(InfraError.isInfraError(err), String(err));
    assert.is((err as InfraError).code, 'INFRA_INVALID_TELEMETRY_SETTING');
    assert.ok((err as Error).message.startsWith(`${variable}=`), (err as Error).message);
    return (err as Error).message;
  }
  assert.unreachable(`${JSON.stringify(env)} was accepted`);
  return '';
};

test('defaults: info, JSON when not a terminal, readable in one, nothing exported', () => {
  assert.equal(telemetrySettings({}, false), { logLevel: 'info', logFormat: 'json', exporting: false });
  assert.is(telemetrySettings({}, true).logFormat, 'pretty');
  assert.equal(telemetrySettings({ LOG_LEVEL: 'DEBUG', LOG_FORMAT: 'json' }, true), {
    logLevel: 'debug',
    logFormat: 'json',
    exporting: false,
  });
});

test('an unknown level, format, exporter, protocol, sampler or endpoint is refused, naming the variable', () => {
  assert.match(refused({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'), 'trace, debug, info, warn, error, fatal, silent');
  refused({ LOG_FORMAT: 'xml' }, 'LOG_FORMAT');
  assert.match(refused({ OTEL_TRACES_EXPORTER: 'otlp,jaeger' }, 'OTEL_TRACES_EXPORTER'), 'otlp, console, none');
  refused({ OTEL_METRICS_EXPORTER: 'statsd' }, 'OTEL_METRICS_EXPORTER');
  refused({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  refused({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'udp' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  refused({ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER');
  refused({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, 'OTEL_TRACES_SAMPLER_ARG');
  refused({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT');
});

test('what the runtime does not include is refused rather than ignored: gRPC, Prometheus, B3, logs over OTLP', () => {
  assert.match(
    refused({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'),
    'http/protobuf, http/json',
  );
  refused({ OTEL_METRICS_EXPORTER: 'prometheus' }, 'OTEL_METRICS_EXPORTER');
  refused({ OTEL_PROPAGATORS: 'tracecontext,b3' }, 'OTEL_PROPAGATORS');
  refused({ OTEL_LOGS_EXPORTER: 'otlp' }, 'OTEL_LOGS_EXPORTER');
  // Switching something off does not switch export on.
  assert.is(telemetrySettings({ OTEL_LOGS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none' }, false).exporting, false);
  for (const name of ['OTEL_METRIC_EXPORT_INTERVAL', 'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_EXPORTER_OTLP_TIMEOUT'])
    for (const value of ['0', '-5', 'soon']) refused({ [name]: value }, name);
  refused({ OTEL_LOG_LEVEL: 'chatty' }, 'OTEL_LOG_LEVEL');
});

test('exported only when an exporter or an OTLP endpoint is set, and not when the SDK is disabled', () => {
  const exporting = (env: NodeJS.ProcessEnv) => telemetrySettings(env, false).exporting;
  assert.is(exporting({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), false);
  assert.is(exporting({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
  assert.is(exporting({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/v1/traces' }), true);
  assert.is(exporting({ OTEL_TRACES_EXPORTER: 'console' }), true);
  assert.is(exporting({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), false);
  assert.is(exporting({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), false);
});

test("the SDK's warnings are logged at most once a minute each, then with how many were left out", () => {
  const lines: string[] = [];
  let now = 0;
  const diag = rateLimitedDiag({ info: (m) => lines.push(m), error: (m) => lines.push(m) }, 60_000, () => now);
  for (let i = 0; i < 100; i++) {
    now += 100;
    diag.error('OTLPExporterError: connect ECONNREFUSED 127.0.0.1:4318', new Error('connect ECONNREFUSED'));
  }
  assert.is(lines.length, 1, lines.join('\n'));
  diag.warn('Dropped 12 spans because maxQueueSize reached');
  assert.is(lines.length, 2, 'another kind of warning is logged at once');
  for (let i = 13; i < 60; i++) diag.warn(`Dropped ${i} spans because maxQueueSize reached`);
  assert.is(lines.length, 2, 'the same kind with other counts is not logged again within the minute');
  now += 60_000;
  diag.error('OTLPExporterError: connect ECONNREFUSED 127.0.0.1:4318');
  assert.is(lines.length, 3);
  assert.match(lines[2], '(99 more like this in the last 60 s)');
  assert.match(lines[0], 'Telemetry: OTLPExporterError: connect ECONNREFUSED 127.0.0.1:4318');
});

test("the app's log lines redact secrets and carry the scope and the active span's IDs", async () => {
  const rec = await recordTelemetry();
  try {
    log.info(
      { password: 'pw-0001', headers: { authorization: 'Bearer tok-0002' }, db: { token: 'tok-0003' }, orderId: 7 },
      'placed',
    );
    const failure = Object.assign(new Error('login failed'), { password: 'pw-0009' });
    log.error(
      {
        headers: { Authorization: 'Bearer tok-0004', 'x-api-key': 'key-0005', 'set-cookie': 'sid=ck-0006' },
        accessToken: 'tok-0007',
        users: [{ name: 'a', client_secret: 'sec-0008' }],
        err: failure,
      },
      'names in other cases and shapes',
    );
    const span = trace.getTracer('test').startSpan('work');
    await trace.getTracer('test').startActiveSpan('outer', async (outer) => {
      withLogScope({ component: 'shop.orders', endpoint: 'POST /orders', requestId: 'r-1' }, () => log.warn('inside'));
      outer.end();
    });
    span.end();
    const text = rec.text.join('');
    for (const secret of ['pw-0001', 'tok-0002', 'tok-0003', 'tok-0004', 'key-0005', 'ck-0006', 'tok-0007'])
      assert.not.ok(text.includes(secret), secret);
    for (const secret of ['sec-0008', 'pw-0009']) assert.not.ok(text.includes(secret), secret);
    const [placed, shapes, inside] = rec.lines;
    assert.match(JSON.stringify(shapes.err), 'login failed', 'the error itself is still written');
    assert.is((shapes.users as { name: string }[])[0].name, 'a');
    assert.is(placed.msg, 'placed');
    assert.is(placed.orderId, 7);
    assert.is(placed.password, '[redacted]');
    assert.is(placed.level, 'info');
    assert.is(placed.app, 'test');
    assert.is(placed.trace_id, undefined);
    assert.is(inside.level, 'warn');
    assert.is(inside.component, 'shop.orders');
    assert.is(inside.endpoint, 'POST /orders');
    assert.is(inside.requestId, 'r-1');
    const outer = rec.spans().find((s) => s.name === 'outer')!;
    assert.is(inside.trace_id, outer.spanContext().traceId);
    assert.is(inside.span_id, outer.spanContext().spanId);
  } finally {
    await rec.stop();
  }
});

test('stopping telemetry unregisters the SDK, so a process (a test run) can start it again', async () => {
  for (let round = 0; round < 2; round++) {
    const telemetry = await startTelemetry({
      exporting: true,
      env: { OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none' },
      serviceName: 'probe',
      app: 'probe',
      log: { info() {}, error() {} },
    });
    assert.ok(trace.getTracer('probe').startSpan('probe').isRecording(), `round ${round}: recording`);
    assert.is(await telemetry.shutdown(), true);
    assert.not.ok(trace.getTracer('probe').startSpan('probe').isRecording(), `round ${round}: unregistered`);
  }
});

test.run();
