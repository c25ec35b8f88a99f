/**
 * Telemetry in real containers (`npm run test:docker`): the starter built with
 * `--with-telemetry-ui`, its dashboard service replaced (in an override file) by a small OTLP/HTTP
 * receiver of the test's own, run from the app's image on the dashboard's network and port,
 * since the dashboard's image cannot be pulled here. The example client's and the API's spans
 * reach it with one trace ID; the personas' log lines are JSON naming the persona; neither
 * holds the API token or the database password.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';

const project = `infratel${randomBytes(4).toString('hex')}`;
const API = 'my-app--customer-server--api';
const CLIENT = 'my-app--example-client';
const UI = 'telemetry-ui';
const MINUTE = 60_000;

/**
 * Prints each span it receives as one `SPAN {…}` line: OTLP/HTTP traces in JSON or in protobuf
 * (read by the tests' own protobuf reader, support/otlp-protobuf.ts, its types stripped), so
 * that both of the runtime's exporters are seen working from a container.
 */
const protobufReader = stripTypeScriptTypes(
  readFileSync(join(repoRoot, 'test', 'support', 'otlp-protobuf.ts'), 'utf8'),
).replace(/^export /gm, '');
const receiver = `${protobufReader}
const attrs = (l) => Object.fromEntries((l || []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
require('http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c)).on('end', () => {
    const protobuf = (req.headers['content-type'] || '').includes('protobuf');
    try {
      const body = Buffer.concat(chunks);
      const request = !req.url.endsWith('/v1/traces') ? {} : protobuf ? decodeTraceRequest(body) : JSON.parse(body.toString());
      for (const rs of request.resourceSpans || [])
        for (const ss of rs.scopeSpans || [])
          for (const s of ss.spans || [])
            console.log('SPAN ' + JSON.stringify({ service: attrs(rs.resource.attributes)['service.name'], traceId: s.traceId,
              spanId: s.spanId, parent: s.parentSpanId || '', name: s.name, kind: s.kind, attributes: attrs(s.attributes),
              encoding: protobuf ? 'protobuf' : 'json' }));
    } catch (e) { console.log('BAD ' + e.message); }
    if (protobuf) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}).listen(18890, '0.0.0.0', () => console.log('receiver ready'));
`;

const folder = mkdtempSync(join(tmpdir(), 'telemetry-docker-'));
const override = join(folder, 'override.yaml');
const files = ['-f', join(repoRoot, 'compose.yaml'), '-f', override];
const compose = (args: string[], timeoutMs = 2 * MINUTE) =>
  run('docker', ['compose', '-p', project, '--project-directory', repoRoot, ...files, ...args], {
    cwd: repoRoot,
    env: cleanEnv(),
    timeoutMs,
  });

const test = suite('telemetry in containers');

test.after(async () => {
  const down = await compose(['down', '-v', '--remove-orphans']);
  if (down.code !== 0) console.error(`docker compose -p ${project} down -v failed:\n${down.stderr}`);
  // The repository's compose.yaml as a plain `npm run infra:build` writes it.
  await run('npm', ['run', '--silent', 'infra:build'], { cwd: repoRoot, env: cleanEnv() });
  rmSync(folder, { recursive: true, force: true });
});

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parent: string;
  name: string;
  kind: number;
  encoding: 'protobuf' | 'json';
}

test("the client's and the API's spans reach the telemetry service with one trace ID; logs are JSON", async () => {
  const built = await run('npm', ['run', '--silent', 'infra:build', '--', '--with-telemetry-ui'], {
    cwd: repoRoot,
    env: cleanEnv(),
  });
  assert.is(built.code, 0, built.stderr);
  // The API's spans in protobuf (the default, the runtime's own tracer), the client's in JSON
  // (the SDK's exporter): one trace across both.
  const apiEnv = { OTEL_BSP_SCHEDULE_DELAY: '200' };
  const clientEnv = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' };
  writeFileSync(
    override,
    stringify({
      services: {
        [UI]: { image: 'my-app-app:latest', command: ['node', '-e', receiver], environment: { PERSONA: '' } },
        [API]: { environment: apiEnv },
        [CLIENT]: { environment: clientEnv },
      },
    }),
  );
  // The app's image first: the receiver's service runs it, and compose would try to pull it.
  const image = await compose(['build', API], 15 * MINUTE);
  assert.is(image.code, 0, image.stderr.slice(-4000));
  const up = await compose(['up', '--no-color', '--exit-code-from', CLIENT], 15 * MINUTE);
  assert.is(up.code, 0, `${up.stdout.slice(-4000)}\n${up.stderr.slice(-4000)}`);

  const logs = await compose(['logs', '--no-color', UI]);
  const spans = logs.stdout
    .split('\n')
    .map((l) => /SPAN (\{.*\})$/.exec(l)?.[1])
    .filter((s): s is string => s !== undefined)
    .map((s) => JSON.parse(s) as Span);
  const task = spans.find((s) => s.name === 'deploy my-app.example-client');
  assert.ok(task, `the task's span, in:\n${logs.stdout.slice(-4000)}`);
  const trace = spans.filter((s) => s.traceId === task.traceId);
  const clientPost = trace.find((s) => s.service === 'my-app.example-client' && s.name === 'POST /api/customer');
  const serverPost = trace.find((s) => s.service === 'my-app.customer-server.api' && s.name === 'POST /api/customer');
  assert.ok(clientPost && serverPost, trace.map((s) => `${s.service} ${s.name}`).join(', '));
  assert.is(serverPost.parent, clientPost.spanId, "the API's span continues the client's");
  assert.is(serverPost.encoding, 'protobuf', "the API's spans came in protobuf");
  assert.is(clientPost.encoding, 'json', "the client's spans came in JSON");
  assert.not.ok(logs.stdout.includes('BAD '), logs.stdout.slice(-4000));
  assert.ok(
    trace.some((s) => s.service === 'my-app.customer-server.api' && s.parent === serverPost.spanId),
    'the store span beneath the server span',
  );

  // Every line a persona wrote, but the client's own console.log, is a JSON object naming it.
  const personaLines = (service: string) =>
    up.stdout
      .split('\n')
      .filter((l) => new RegExp(`^${service}(_\\d+)? +\\|`).test(l))
      .map((l) => l.slice(l.indexOf('|') + 1).trim())
      .filter((l) => l !== '' && !l.startsWith('Loaded customer:'));
  const apiLines = personaLines(API);
  assert.ok(apiLines.length >= 3, up.stdout.slice(-4000));
  for (const line of apiLines) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.is(parsed.persona, 'my-app.customer-server.api', line);
    assert.is(parsed.app, 'my-app', line);
  }
  assert.ok(
    apiLines.some((l) => l.includes('"route":"/api/customer"')),
    'an access line per request',
  );

  const values = JSON.parse(readFileSync(join(repoRoot, 'starter', 'build', 'values.json'), 'utf8')).values as Record<
    string,
    string
  >;
  const everything = up.stdout + up.stderr + logs.stdout;
  for (const id of ['my-app.customer-server.api.token', 'my-app.customer-server.db.password'])
    assert.not.ok(everything.includes(values[id]), `${id} is in no log line and no span`);
});

test.run();
