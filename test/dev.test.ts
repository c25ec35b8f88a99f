/**
 * `npm run dev` on the starter, through its dashboard's routes (the browser test drives the page):
 * what the map, the logs, the traces, the API explorer and the Stores show; who may ask (the
 * token, the Host); a restart after an edit; an app whose startup throws, shown as failed, and
 * the loop still watching for the fix.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine, SpanView, TraceView } from 'infra-generator/internal/modes/dev-dashboard-api';
import { startDevLoop, type DevLoop } from './support/dev-loop.ts';
import { repoRoot, run } from './support/temp-project.ts';

const test = suite<{ dev: DevLoop }>('npm run dev');

const API = 'my-app.customer-server.api';
const CLIENT = 'my-app.example-client';
const LOADED = 'Loaded customer: {"id":"1","name":"John Doe"}';

test.before(async (context) => {
  context.dev = await startDevLoop();
});
test.after(async ({ dev }) => {
  if (!dev) return;
  // A dashboard tab still open (its event stream) does not hold the dev loop up.
  const stream = await fetch(`${dev.base}/api/events?token=${dev.token}`);
  assert.is(stream.status, 200);
  const code = await Promise.race([
    dev.stop(),
    new Promise((resolve) => setTimeout(resolve, 8_000, 'still running 8 s after SIGTERM')),
  ]);
  assert.is(code, 0, 'Ctrl-C (SIGTERM) ends the dev loop cleanly');
  assert.equal(dev.leftovers(), [], 'no process of the app is left');
});

test('the map: the tree of architecture.md, each persona with its state', async ({ dev }) => {
  const overview = await dev.until('the task has finished', async () => {
    const o = await dev.overview();
    return o.personas.find((p) => p.id === CLIENT)?.state === 'finished' && o;
  });
  assert.is(overview.app, 'my-app');
  assert.is(overview.mode, 'one-process');
  assert.is(overview.state, 'running');
  assert.equal(
    overview.diagram!.nodes.map((n) => [n.id, n.role]),
    [
      ['my-app.customer-server.db', 'store'],
      [API, 'api'],
      [CLIENT, 'persona'],
    ],
  );
  assert.equal(overview.diagram!.edges, [
    { from: API, to: 'my-app.customer-server.db', kind: 'uses' },
    { from: CLIENT, to: API, kind: 'calls' },
  ]);
  assert.match(overview.mermaid!, /^flowchart LR/);
  assert.equal(
    overview.personas.map((p) => [p.id, p.kind, p.state, p.exitCode, p.restarts]),
    [
      [API, 'ApiServer', 'healthy', undefined, 0],
      [CLIENT, 'DeployTask', 'finished', 0, 0],
    ],
  );
});

test("the logs: the task's console.log as its line, with its trace, which holds the calls and the store spans", async ({
  dev,
}) => {
  const line = await dev.until('the line is logged', async () => {
    const { body } = await dev.api<{ lines: LogLine[] }>(`/api/logs?persona=${CLIENT}`);
    return body.lines.find((l) => l.msg === LOADED);
  });
  assert.is(line.level, 'info');
  assert.is(line.persona, CLIENT);
  assert.ok(line.traceId, 'the line has its trace ID');
  // Filtered out: a higher lowest level, another persona, a search that does not match.
  for (const query of ['level=warn', `persona=${API}`, 'q=nobody-wrote-this'])
    assert.not.ok(
      (await dev.api<{ lines: LogLine[] }>(`/api/logs?${query}`)).body.lines.some((l) => l.msg === LOADED),
      query,
    );
  assert.ok((await dev.api<{ lines: LogLine[] }>('/api/logs?q=JOHN%20DOE')).body.lines.some((l) => l.msg === LOADED));
  assert.is((await dev.api('/api/logs?level=loud')).status, 400);

  const trace = await dev.until('the trace has arrived whole', async () => {
    const { status, body } = await dev.api<TraceView>(`/api/traces/${line.traceId}`);
    return status === 200 && body.spans.length >= 7 && body.spans;
  });
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const parent = (s: SpanView) => (s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId));
  const path = (s: SpanView): string[] => {
    const p = parent(s);
    return [...(p ? path(p) : []), `${s.kind} ${s.name}`];
  };
  const paths = trace.map(path).map((p) => p.join(' > '));
  const root = `internal deploy ${CLIENT}`;
  for (const expected of [
    root,
    `${root} > client POST /api/customer > server POST /api/customer > client set my-app.customer-server.db`,
    `${root} > client GET /api/customer > server GET /api/customer > client get my-app.customer-server.db`,
  ])
    assert.ok(paths.includes(expected), `${expected}\nin\n${paths.join('\n')}`);
  // Each span names the persona that made it.
  assert.is(trace.find((s) => s.kind === 'server')!.service, API);
  assert.is(trace.find((s) => s.name === `deploy ${CLIENT}`)!.service, CLIENT);
  const { body } = await dev.api<{ traces: { traceId: string; name: string; spanCount: number }[] }>('/api/traces');
  const summary = body.traces.find((t) => t.traceId === line.traceId)!;
  assert.is(summary.name, `deploy ${CLIENT}`);
  assert.is(summary.spanCount, trace.length);
});

test('the API explorer: every endpoint with its schema; a call answers, a bad argument gets its 400', async ({
  dev,
}) => {
  const { body } = await dev.api<{ endpoints: { server: string; method: string; route: string; input?: any }[] }>(
    '/api/endpoints',
  );
  assert.equal(
    body.endpoints.map((e) => `${e.server} ${e.method} ${e.route}`),
    [`${API} POST /api/customer`, `${API} GET /api/customer`],
  );
  assert.is(body.endpoints[0]!.input.type, 'object');
  assert.equal(body.endpoints[0]!.input.required, ['id', 'name']);

  const call = (arg?: string) =>
    dev.api('/api/call', {
      method: 'POST',
      body: JSON.stringify({
        server: API,
        method: 'GET',
        route: '/api/customer',
        ...(arg === undefined ? {} : { arg }),
      }),
    });
  const found = await call('"1"');
  assert.is(found.status, 200);
  assert.is(found.body.status, 200);
  assert.equal(found.body.answer, { id: '1', name: 'John Doe' });
  assert.ok(found.body.traceId, 'the call has a trace to show');
  await dev.until(
    'the call is traced',
    async () => (await dev.api(`/api/traces/${found.body.traceId}`)).status === 200,
  );

  assert.equal((await call('"2"')).body.status, 204, 'no such customer: 204');
  const wrongType = await call('1');
  assert.is(wrongType.body.status, 400);
  assert.match(wrongType.body.error, `Invalid argument to ${API} (GET /api/customer)`);
  const notJson = await call('{nope');
  assert.is(notJson.body.status, 400);
  assert.match(notJson.body.error, 'not JSON');
  const missing = await dev.api('/api/call', {
    method: 'POST',
    body: JSON.stringify({ server: API, method: 'DELETE', route: '/api/customer' }),
  });
  assert.is(missing.status, 404);
  assert.match(missing.body.error, 'No endpoint DELETE /api/customer');
});

test("the Stores: each one's entries, paged, read-only", async ({ dev }) => {
  assert.equal((await dev.api('/api/stores')).body, { stores: [{ id: 'my-app.customer-server.db', indexes: [] }] });
  for (const id of ['2', '3', '4'])
    await dev.api('/api/call', {
      method: 'POST',
      body: JSON.stringify({
        server: API,
        method: 'POST',
        route: '/api/customer',
        arg: JSON.stringify({ id, name: `C${id}` }),
      }),
    });
  const first = await dev.api('/api/stores/my-app.customer-server.db/entries?limit=3');
  assert.equal(first.body, {
    entries: [
      ['1', { id: '1', name: 'John Doe' }],
      ['2', { id: '2', name: 'C2' }],
      ['3', { id: '3', name: 'C3' }],
    ],
    next: '3',
  });
  const second = await dev.api('/api/stores/my-app.customer-server.db/entries?limit=3&after=3');
  assert.equal(second.body, { entries: [['4', { id: '4', name: 'C4' }]] });
  assert.is((await dev.api('/api/stores/nope/entries')).status, 404);
  // Read-only: no route writes.
  for (const method of ['POST', 'PUT', 'DELETE'])
    assert.is(
      (await dev.api('/api/stores/my-app.customer-server.db/entries', { method, body: '{}' })).status,
      404,
      method,
    );
});

test('no token, a wrong token, or another Host: no data', async ({ dev }) => {
  // The token with its last character changed: appending 'x' in place of the last one would give
  // the token itself back when it ends in 'x' (one run in 64 did).
  const wrongToken = dev.token.slice(0, -1) + (dev.token.endsWith('x') ? 'y' : 'x');
  for (const path of ['/api/overview', '/api/logs', '/api/traces', '/api/stores/my-app.customer-server.db/entries']) {
    const none = await fetch(`${dev.base}${path}`);
    const text = await none.text();
    // What answered, when it was not a 401: seen twice in CI, never here.
    assert.is(none.status, 401, `${path}: ${JSON.stringify([...none.headers])} ${text.slice(0, 300)}`);
    assert.not.match(text, 'John');
    assert.match(text, 'access token');
    const wrong = await fetch(`${dev.base}${path}`, {
      headers: { authorization: `Bearer ${wrongToken}` },
    });
    assert.is(wrong.status, 401, path);
    assert.is((await fetch(`${dev.base}${path}?token=${dev.token}x`)).status, 401, path);
  }
  const call = await fetch(`${dev.base}/api/call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ server: API, method: 'GET', route: '/api/customer', arg: '"1"' }),
  });
  assert.is(call.status, 401);
  // Spans sent without the token are refused too (nobody else can fill the dashboard).
  assert.is(
    (
      await fetch(`${dev.base}/v1/traces`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      })
    ).status,
    401,
  );
  // The path spelt otherwise (the router decodes it) is the same route, and as closed.
  for (const path of [
    '/%61pi/overview',
    '/%61pi/stores/my-app.customer-server.db/entries',
    '/API/overview',
    '/api//overview',
  ])
    assert.is((await fetch(`${dev.base}${path}`)).status, 401, path);
  const encodedCall = await fetch(`${dev.base}/%61pi/call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ server: API, method: 'GET', route: '/api/customer', arg: '"1"' }),
  });
  assert.is(encodedCall.status, 401);
  const encodedSpans = await fetch(`${dev.base}/%761/traces`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.is(encodedSpans.status, 401);
  // The token in the query works (EventSource cannot set a header).
  assert.is((await fetch(`${dev.base}/api/overview?token=${dev.token}`)).status, 200);
  // A DNS-rebinding page reaches 127.0.0.1 under its own name: refused.
  const { request } = await import('node:http');
  const status = await new Promise<number>((resolve, reject) =>
    request(`${dev.base}/api/overview?token=${dev.token}`, { headers: { host: 'attacker.example' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end(),
  );
  assert.is(status, 403);
  // No CORS: another origin's page cannot read an answer, even one it could ask for.
  const preflight = await fetch(`${dev.base}/api/overview`, {
    method: 'OPTIONS',
    headers: { origin: 'https://attacker.example', 'access-control-request-method': 'GET' },
  });
  assert.is(preflight.headers.get('access-control-allow-origin'), null);
  const read = await fetch(`${dev.base}/api/overview?token=${dev.token}`, {
    headers: { origin: 'https://attacker.example' },
  });
  assert.is(read.headers.get('access-control-allow-origin'), null);
  // The page holds no data and needs no token; it is served with a strict content policy.
  const page = await fetch(`${dev.base}/`);
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-security-policy')!, "default-src 'self'");
  assert.is(page.headers.get('referrer-policy'), 'no-referrer');
  for (const asset of ['app.js', 'preact-htm.js', 'preact.js', 'preact-hooks.js', 'htm.js', 'mermaid.min.js'])
    assert.is((await fetch(`${dev.base}/assets/${asset}`)).status, 200, asset);
  assert.is((await fetch(`${dev.base}/assets/..%2F..%2Fpackage.json`)).status, 404);
});

test("the app's processes hold a token for sending spans, which reads and calls nothing", async ({ dev }) => {
  // The app process's environment, as its code (any persona's, in one process) could read it.
  const children = readFileSync(`/proc/${dev.pid}/task/${dev.pid}/children`, 'utf8').trim().split(/\s+/);
  const environ = children.map((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'));
  const env = environ.find((e) => e.includes('INFRA_DEV_AGENT=1'))!;
  assert.ok(env, 'the app process');
  const header = env.find((v) => v.startsWith('OTEL_EXPORTER_OTLP_HEADERS='))!;
  const ingest = /Bearer (\S+)/.exec(header)![1]!;
  assert.not.ok(
    env.some((v) => v.includes(dev.token)),
    "the dashboard's token is not the app's to read",
  );
  const as = { authorization: `Bearer ${ingest}`, 'content-type': 'application/json' };
  assert.is((await fetch(`${dev.base}/api/overview`, { headers: as })).status, 401);
  const call = await fetch(`${dev.base}/api/call`, {
    method: 'POST',
    headers: as,
    body: JSON.stringify({ server: API, method: 'GET', route: '/api/customer', arg: '"1"' }),
  });
  assert.is(call.status, 401);
  assert.is((await fetch(`${dev.base}/v1/traces`, { method: 'POST', headers: as, body: '{}' })).status, 200);
});

test('an edit restarts the app within seconds; a startup that throws shows as failed, and the fix starts it again', async ({
  dev,
}) => {
  const main = join(dev.project.starter, 'src', 'main.ts');
  const original = readFileSync(main, 'utf8');
  const before = (await dev.overview()).generation;
  const saved = Date.now();
  writeFileSync(main, original.replace('Loaded customer: ', 'Loaded the customer: '));
  const restarted = await dev.until('restarted with the edit', async () => {
    const o = await dev.overview();
    return o.generation > before && o.personas.find((p) => p.id === CLIENT)?.state === 'finished' && o;
  });
  const tookMs = Date.now() - saved;
  assert.ok(tookMs < 10_000, `restarted and ran the task ${tookMs} ms after the save`);
  assert.equal(restarted.changed, ['src/main.ts']);
  assert.is(restarted.personas.find((p) => p.id === CLIENT)!.restarts, 1);
  await dev.until(
    'the edited line is logged',
    async () => (await dev.api<{ lines: LogLine[] }>('/api/logs?q=Loaded the customer')).body.lines.length > 0,
  );
  assert.match(dev.output(), 'Changed: src/main.ts; restarting');

  appendFileSync(main, '\nthrow new Error("half-way through an edit");\n');
  const failed = await dev.until('shown as failed', async () => {
    const o = await dev.overview();
    return o.state === 'failed' && o;
  });
  assert.match(failed.error!, 'half-way through an edit');
  assert.match(dev.output(), 'waiting for a change');

  writeFileSync(main, original);
  await dev.until('running again after the fix', async () => {
    const o = await dev.overview();
    return o.state === 'running' && o.personas.find((p) => p.id === CLIENT)?.state === 'finished';
  });
});

test('a task that throws shows as failed with its error; the server stays healthy; the fix runs it again', async ({
  dev,
}) => {
  const main = join(dev.project.starter, 'src', 'main.ts');
  const original = readFileSync(main, 'utf8');
  const before = (await dev.overview()).generation;
  writeFileSync(
    main,
    original.replace('console.log(`Loaded', 'throw new Error(`The task broke`); console.log(`Loaded'),
  );
  const failed = await dev.until('the task failed', async () => {
    const o = await dev.overview();
    return o.generation > before && o.personas.find((p) => p.id === CLIENT)?.state === 'failed' && o;
  });
  const task = failed.personas.find((p) => p.id === CLIENT)!;
  assert.is(task.exitCode, 1);
  assert.match(task.error!, `Deploy task ${CLIENT}`);
  assert.match(task.error!, 'The task broke');
  assert.is(failed.personas.find((p) => p.id === API)!.state, 'healthy');
  assert.is(failed.state, 'running', 'the app still runs: its server answers the API explorer');
  writeFileSync(main, original);
  await dev.until('the task ran again', async () => {
    const o = await dev.overview();
    return o.personas.find((p) => p.id === CLIENT)?.state === 'finished';
  });
});

test('the command line: --help, and a mistake said with the usage', async () => {
  const help = await run('npm', ['run', '--silent', 'dev', '--', '--help'], { cwd: repoRoot, timeoutMs: 30_000 });
  assert.is(help.code, 0);
  assert.match(help.stdout, 'Usage: npm run dev -- [--local] [--port N] [ENTRY]');
  const wrong = await run('npm', ['run', '--silent', 'dev', '--', '--lokal'], { cwd: repoRoot, timeoutMs: 30_000 });
  assert.is(wrong.code, 2);
  assert.match(wrong.stderr, "Unknown option '--lokal'");
  assert.match(wrong.stderr, 'Run `npm run dev -- --help`');
});

test.run();
