/**
 * Telemetry of deployed personas as separate processes (the fixture app, wired by hand as
 * compose or the local runner would): spans of the client task and of the API reach an OTLP/HTTP
 * receiver with one trace ID, log lines are JSON naming the persona, no token or password is in
 * either, and a collector that is down or never answers neither fails nor holds up the app.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from './support/free-port.ts';
import { startPersona, type PersonaProcess } from './support/persona-process.ts';
import { admin, adminUrl } from './support/pg-admin.ts';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'deployed-app', 'main.ts');
const token = `tok${randomBytes(16).toString('hex')}`;
const database = `telemetry_export_${randomBytes(4).toString('hex')}`;
const dbPassword = `pw${randomBytes(8).toString('hex')}`;
const role = `telemetry_role_${randomBytes(4).toString('hex')}`;

const test = suite('telemetry export');

const otel = (endpoint: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  // Spans in protobuf, the default (the runtime's own tracer); metrics in JSON, which the receiver reads.
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  // Short, so that what a server exports before it is stopped is seen too.
  OTEL_BSP_SCHEDULE_DELAY: '200',
  OTEL_METRIC_EXPORT_INTERVAL: '500',
});

test.before(async () => {
  await admin(`CREATE ROLE ${role} LOGIN PASSWORD '${dbPassword}'`);
  await admin(`CREATE DATABASE ${database} OWNER ${role}`);
});

test.after(async () => {
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin(`DROP ROLE IF EXISTS ${role}`);
});

async function startApi(env: Record<string, string>): Promise<{ api: PersonaProcess; port: number }> {
  const port = await freePort();
  const dbUrl = new URL(adminUrl);
  dbUrl.username = role;
  dbUrl.password = dbPassword;
  dbUrl.pathname = `/${database}`;
  const api = await startPersona(fixture, 'fixture.counter.api', {
    FIXTURE__COUNTER__API__PORT: String(port),
    FIXTURE__COUNTER__API__TOKEN: token,
    FIXTURE__COUNTER__DB__URL: dbUrl.toString(),
    INFRA_LISTEN_HOST: '127.0.0.1',
    ...env,
  });
  await api.waitFor(`listening on http://127.0.0.1:${port}"`);
  return { api, port };
}

const clientEnv = (port: number, env: Record<string, string>) => ({
  FIXTURE__COUNTER__API__URL: `http://127.0.0.1:${port}`,
  FIXTURE__COUNTER__API__TOKEN: token,
  ...env,
});

async function stop(persona: PersonaProcess): Promise<number | null> {
  persona.child.kill('SIGTERM');
  return persona.exited;
}

test('the client task and the API export their spans with one trace ID; logs are JSON lines naming the persona', async () => {
  const receiver = await startOtlpReceiver();
  let api: PersonaProcess | undefined;
  try {
    const started = await startApi(otel(receiver.url));
    api = started.api;
    const client = await startPersona(fixture, 'fixture.client', clientEnv(started.port, otel(receiver.url)));
    assert.is(await client.exited, 0, client.stdout() + client.stderr());
    assert.match(client.stdout(), 'Counted visits: 5 (read back: 5)');
    // SIGTERM: the server's last spans and metrics are flushed as it stops.
    assert.is(await stop(api), 0, api.stderr());

    const task = receiver.spans.find((s) => s.name === 'deploy fixture.client');
    assert.ok(task, `the task's span, among: ${receiver.spans.map((s) => `${s.service} ${s.name}`).join(', ')}`);
    const trace = receiver.spans.filter((s) => s.traceId === task.traceId);
    const services = new Set(trace.map((s) => s.service));
    assert.ok(services.has('fixture.client') && services.has('fixture.counter.api'), [...services].join(', '));
    const clientCalls = trace.filter((s) => s.service === 'fixture.client' && s.name === 'POST /add');
    const serverCalls = trace.filter((s) => s.service === 'fixture.counter.api' && s.name === 'POST /add');
    assert.is(clientCalls.length, 2);
    assert.is(serverCalls.length, 2);
    for (const served of serverCalls)
      assert.ok(
        clientCalls.some((c) => c.spanId === served.parentSpanId),
        'each server span is the child of a client span',
      );
    const stores = trace.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    assert.ok(stores.length >= 3, `store spans in the trace: ${stores.map((s) => s.name).join(', ')}`);
    for (const store of stores)
      assert.ok(
        serverCalls.concat(trace.filter((s) => s.name === 'GET /count')).some((s) => s.spanId === store.parentSpanId),
      );
    assert.is(task.resource['infra.app.id'], 'fixture');
    assert.ok(receiver.protobufRequests > 0, 'the spans came in protobuf');
    assert.ok(receiver.metricNames.has('http.server.request.duration'), [...receiver.metricNames].join(', '));

    // Logs: JSON lines, each naming the app and persona; the access lines among them.
    const lines = api
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.every((l) => l.persona === 'fixture.counter.api' && l.app === 'fixture'));
    const access = lines.filter((l) => l.route === '/add');
    assert.is(access.length, 2, api.stdout());
    assert.ok(access.every((l) => typeof l.trace_id === 'string' && serverCalls.some((s) => s.traceId === l.trace_id)));

    const everything = [api.stdout(), api.stderr(), client.stdout(), client.stderr(), ...receiver.bodies].join('\n');
    assert.not.ok(everything.includes(token), 'the API token is in no log line and no span');
    assert.not.ok(everything.includes(dbPassword), 'the database password is in no log line and no span');
  } finally {
    await api?.kill();
    await receiver.close();
  }
});

test('a collector that never answers or is down: the calls succeed, the task exits in time, one line says so', async () => {
  const hanging: OtlpReceiver = await startOtlpReceiver();
  hanging.hang();
  const down = `http://127.0.0.1:${await freePort()}`;
  let api: PersonaProcess | undefined;
  try {
    const started = await startApi(otel(down));
    api = started.api;
    const begun = Date.now();
    const client = await startPersona(fixture, 'fixture.client', clientEnv(started.port, otel(hanging.url)));
    assert.is(await client.exited, 0, client.stdout() + client.stderr());
    // The client's last spans wait for the receiver only as long as its flush grace (3 s), not
    // for the exporter's own timeout (10 s).
    assert.ok(Date.now() - begun < 9_000, `the task took ${Date.now() - begun} ms`);
    assert.match(client.stdout(), /Counted visits: \d+ \(read back: \d+\)/);
    assert.ok(hanging.bodies.length >= 1, 'the client did try to export');

    // The API keeps answering while its exports fail, and says so once, not per span.
    for (let i = 0; i < 3; i++) {
      const again = await startPersona(fixture, 'fixture.client', clientEnv(started.port, {}));
      assert.is(await again.exited, 0, again.stdout() + again.stderr());
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.is(await stop(api), 0);
    const complaints = api
      .stderr()
      .split('\n')
      .filter((l) => l.includes('Telemetry:'));
    assert.ok(complaints.length >= 1 && complaints.length <= 2, api.stderr());
  } finally {
    await api?.kill();
    await hanging.close();
  }
});

test('LOG_FORMAT=pretty: readable lines, errors on standard error', async () => {
  const failing = await startPersona(fixture, 'fixture.failing', clientEnv(1, { LOG_FORMAT: 'pretty' }));
  assert.is(await failing.exited, 1);
  const line = failing
    .stderr()
    .split('\n')
    .find((l) => l.includes('Deploy task fixture.failing failed'));
  assert.ok(line, failing.stderr());
  assert.not.ok(line.trimStart().startsWith('{'), `not JSON: ${line}`);
  assert.match(line, /ERROR/);
});

test('an unknown LOG_LEVEL or exporter stops the persona at start, naming the variable', async () => {
  for (const [variable, value] of [
    ['LOG_LEVEL', 'loud'],
    ['OTEL_TRACES_EXPORTER', 'jaeger'],
  ]) {
    const client = await startPersona(fixture, 'fixture.client', clientEnv(1, { [variable]: value }));
    assert.is(await client.exited, 1);
    assert.match(client.stderr(), `${variable}="${value}" is not a setting this process can start with`);
    assert.not.match(client.stdout(), 'Counted visits');
  }
});

test.run();
