/**
 * The telemetry of ApiServers: a CLIENT span per endpoint call and a SERVER span per served
 * call, one trace across HTTP (traceparent) and in one process; one access line per HTTP
 * request, refusals included, in the call's trace; the handler's own log lines naming the
 * server, the endpoint and the request; the request-duration metrics; and never an argument or
 * a bearer token in a span or a log line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { context, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import { rootId, ApiServer, HttpError, startInProcess, log } from 'infra-generator';
import { parentOf, recordTelemetry, type RecordedTelemetry } from '../support/telemetry.ts';
import { serveApi, type ServedApi } from '../support/serve-api.ts';

/** In every argument of these tests, and so never in a span. */
const SECRET = `Ar${randomBytes(4).toString('hex')}Gx`;
/** The API's bearer token: never in a span or a log line. */
const TOKEN = `tok${randomBytes(8).toString('hex')}en`;

type Line = Record<string, unknown>;

/** An ApiServer whose handlers log a line, answer, fail and refuse. */
function createApi(root: string) {
  const id = rootId(root);
  const api = new ApiServer(id`api`);
  const customers = new Map<string, { id: string; name: string }>();
  const clients = {
    post: api.defineEndpoint('/customer', (c: { id: string; name: string }) => {
      log.info('storing a customer');
      customers.set(c.id, c);
      return { stored: true };
    }),
    get: api.defineEndpoint(
      '/customer',
      (customerId: string) => {
        const c = customers.get(customerId);
        // The message names no argument: a handler's message is the caller's to see, and may be traced.
        if (!c) throw new HttpError(404, 'No such customer');
        return c;
      },
      { method: 'GET' },
    ),
    forget: api.defineEndpoint('/customer', (customerId: string) => void customers.delete(customerId), {
      method: 'DELETE',
    }),
    fail: api.defineEndpoint('/fail', () => {
      throw new Error('the database is on fire');
    }),
  };
  return { id, api, clients };
}

function spanNamed(rec: RecordedTelemetry, kind: SpanKind, name: string): ReadableSpan {
  const found = rec.spans().filter((s) => s.kind === kind && s.name === name);
  assert.is(
    found.length,
    1,
    `one ${SpanKind[kind]} span ${name}, among ${rec
      .spans()
      .map((s) => s.name)
      .join(', ')}`,
  );
  return found[0];
}

/** Every value a span holds besides its IDs: attributes, status message, event attributes. */
function spanText(span: ReadableSpan): string {
  return JSON.stringify([span.name, span.attributes, span.status, span.events.map((e) => [e.name, e.attributes])]);
}

/** The lines found by `match`, once one has come (the access line follows the answer's sending). */
async function linesOf(rec: RecordedTelemetry, match: (line: Line) => boolean): Promise<Line[]> {
  for (let waited = 0; waited < 2_000 && !rec.lines.some(match); waited += 10) await sleep(10);
  // A second line, were there one, would come as soon as the first.
  await sleep(30);
  return rec.lines.filter(match);
}

async function histogramPoints(rec: RecordedTelemetry, name: string): Promise<DataPoint<Histogram>[]> {
  const metrics = (await rec.metrics()).scopeMetrics.flatMap((scope) => scope.metrics);
  return metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
}

/** Runs `fn` in a span of the test's own, with the headers that carry its trace; resolves to its trace ID. */
async function inTestTrace(fn: (headers: Record<string, string>) => Promise<void>): Promise<string> {
  const tracer = trace.getTracer('api-telemetry-test');
  return tracer.startActiveSpan('test', async (span) => {
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    assert.ok(headers.traceparent, 'the test span has a traceparent to send');
    try {
      await fn(headers);
    } finally {
      span.end();
    }
    return span.spanContext().traceId;
  });
}

async function send(url: string, method: string, headers: Record<string, string>, body?: string) {
  const response = await request(url, { method: method as 'GET', headers, body });
  await response.body.text();
  return { status: response.statusCode, requestId: response.headers['x-request-id'] as string | undefined };
}

/** What the server answers to `text` sent as it is (a request no client would make), headers and body. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer)).on('error', reject);
  });
}

async function withTelemetry(
  fn: (rec: RecordedTelemetry) => Promise<void>,
  contextManager: 'runtime' | 'api' = 'runtime',
): Promise<void> {
  const rec = await recordTelemetry({ contextManager });
  try {
    await fn(rec);
  } finally {
    await rec.stop();
  }
}

/** A call's CLIENT span and its SERVER span, which must be the client span's child, in its trace. */
function callSpans(rec: RecordedTelemetry, name: string) {
  const client = spanNamed(rec, SpanKind.CLIENT, name);
  const served = spanNamed(rec, SpanKind.SERVER, name);
  assert.is(served.spanContext().traceId, client.spanContext().traceId);
  assert.is(parentOf(served), client.spanContext().spanId);
  return { client, served };
}

// ---------------------------------------------------------------- over HTTP

const http = suite('api telemetry over HTTP');
const served = createApi('api-telemetry-http');
const SERVER_ID = served.api.id.value;
let server: ServedApi;

http.before(async () => {
  server = await serveApi(served.api, TOKEN);
});
http.after(async () => {
  server.controller.abort();
  await server.platform.close();
});

http('a call is a CLIENT span and its SERVER span, one trace, without the argument', () =>
  withTelemetry(async (rec) => {
    assert.equal(await served.clients.post({ id: SECRET, name: SECRET }), { stored: true });
    const { client, served: served_ } = callSpans(rec, 'POST /customer');
    assert.equal(client.attributes, {
      'http.request.method': 'POST',
      'http.route': '/customer',
      'infra.component.id': SERVER_ID,
      'http.response.status_code': 200,
      'url.full': `${server.url}/customer`,
      'server.address': '127.0.0.1',
      'server.port': server.port,
    });
    assert.equal(served_.attributes, {
      'http.request.method': 'POST',
      'http.route': '/customer',
      'infra.component.id': SERVER_ID,
      'infra.persona.id': SERVER_ID,
      'http.response.status_code': 200,
    });
    assert.is(served_.status.code, SpanStatusCode.UNSET);

    // A GET carries its argument in the query string, which the URL on the span leaves out.
    assert.equal(await served.clients.get(SECRET), { id: SECRET, name: SECRET });
    assert.is(spanNamed(rec, SpanKind.CLIENT, 'GET /customer').attributes['url.full'], `${server.url}/customer`);
    assert.is(await served.clients.forget(SECRET), undefined);
    assert.is(spanNamed(rec, SpanKind.CLIENT, 'DELETE /customer').attributes['http.response.status_code'], 204);
    for (const span of rec.spans()) assert.not.ok(spanText(span).includes(SECRET), spanText(span));
  }),
);

http("an HttpError's status is on both spans; only a 5xx fails the SERVER span", () =>
  withTelemetry(async (rec) => {
    const missing = await served.clients.get(`nobody-${SECRET}`).catch((e: unknown) => e);
    assert.is((missing as HttpError).status, 404);
    const client = spanNamed(rec, SpanKind.CLIENT, 'GET /customer');
    const refused = spanNamed(rec, SpanKind.SERVER, 'GET /customer');
    assert.is(client.attributes['http.response.status_code'], 404);
    assert.is(refused.attributes['http.response.status_code'], 404);
    assert.is(refused.status.code, SpanStatusCode.UNSET, 'a 4xx is the caller’s fault, not the server’s');

    const failed = await served.clients.fail().catch((e: unknown) => e);
    assert.is((failed as HttpError).status, 500);
    const failing = spanNamed(rec, SpanKind.SERVER, 'POST /fail');
    assert.is(failing.status.code, SpanStatusCode.ERROR);
    assert.is(failing.attributes['http.response.status_code'], 500);
    assert.is(failing.attributes['error.type'], '500');
    // The handler's error is in the trace as it is in the log (the caller gets neither).
    assert.ok(spanText(failing).includes('the database is on fire'), spanText(failing));
    const failedClient = spanNamed(rec, SpanKind.CLIENT, 'POST /fail');
    assert.is(failedClient.attributes['http.response.status_code'], 500);
    assert.is(failedClient.status.code, SpanStatusCode.ERROR);
  }),
);

http('one access line per request, in its trace: a call, a 401 without a token, a 404', () =>
  withTelemetry(async (rec) => {
    await served.clients.post({ id: '1', name: 'Jo' });
    const span = spanNamed(rec, SpanKind.SERVER, 'POST /customer');
    const isAccess = (method: string, route: string, status: number) => (l: Line) =>
      l.method === method && l.route === route && l.status === status && 'durationMs' in l;
    const call = await linesOf(rec, isAccess('POST', '/customer', 200));
    assert.is(call.length, 1, JSON.stringify(call));
    assert.is(call[0].level, 'info');
    assert.is(call[0].component, SERVER_ID);
    assert.type(call[0].durationMs, 'number');
    assert.match(call[0].msg as string, /^POST \/customer 200 \d+\.\d ms$/);
    assert.match(call[0].requestId as string, /^[0-9a-f-]{36}$/);
    assert.is(call[0].trace_id, span.spanContext().traceId);
    assert.is(call[0].span_id, span.spanContext().spanId);

    // Refused before any handler: the lines are in the caller's trace.
    let noToken: Awaited<ReturnType<typeof send>> | undefined;
    let notFound: Awaited<ReturnType<typeof send>> | undefined;
    const traceId = await inTestTrace(async (headers) => {
      noToken = await send(`${server.url}/customer`, 'POST', { ...headers, 'content-type': 'application/json' }, '{}');
      notFound = await send(`${server.url}/nowhere?arg=1`, 'GET', { ...headers, authorization: `Bearer ${TOKEN}` });
    });
    assert.is(noToken!.status, 401);
    assert.is(notFound!.status, 404);
    const unauthorized = await linesOf(rec, isAccess('POST', '/customer', 401));
    const missing = await linesOf(rec, isAccess('GET', '/nowhere', 404));
    assert.is(unauthorized.length, 1, JSON.stringify(unauthorized));
    assert.is(missing.length, 1, JSON.stringify(missing));
    assert.is(unauthorized[0].requestId, noToken!.requestId);
    assert.is(missing[0].requestId, notFound!.requestId);
    assert.is(unauthorized[0].trace_id, traceId);
    assert.is(missing[0].trace_id, traceId);
    assert.is(rec.lines.filter((l) => 'durationMs' in l).length, 3, 'no other access line');
  }),
);

http(
  "with no tracer (metrics only), the access lines and the handler's lines still carry the caller's trace",
  async () => {
    const rec = await recordTelemetry({ traces: false });
    try {
      const traceId = randomBytes(16).toString('hex');
      const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
      const json = { traceparent, 'content-type': 'application/json' };
      const called = await send(
        `${server.url}/customer`,
        'POST',
        { ...json, authorization: `Bearer ${TOKEN}` },
        '{"id":"2","name":"Al"}',
      );
      const refused = await send(`${server.url}/customer`, 'POST', json, '{}');
      assert.is(called.status, 200);
      assert.is(refused.status, 401);
      const isAccess = (status: number) => (l: Line) =>
        l.route === '/customer' && l.status === status && 'durationMs' in l;
      const [callLine] = await linesOf(rec, isAccess(200));
      const [refusalLine] = await linesOf(rec, isAccess(401));
      const handlerLine = rec.lines.find((l) => l.msg === 'storing a customer' && l.requestId === called.requestId);
      assert.is(callLine?.trace_id, traceId, JSON.stringify(callLine));
      assert.is(refusalLine?.trace_id, traceId, JSON.stringify(refusalLine));
      assert.is(handlerLine?.trace_id, traceId, JSON.stringify(handlerLine));
      assert.is(rec.spans().length, 0, 'no span is made without a tracer');
    } finally {
      await rec.stop();
    }
  },
);

http('refusals before any handler get one access line each, without the query string', () =>
  withTelemetry(async (rec) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const badJson = await send(`${server.url}/customer?arg=%7B${SECRET}`, 'GET', auth);
    assert.is(badJson.status, 400);
    const tooLarge = await send(`${server.url}/customer`, 'POST', json, JSON.stringify('x'.repeat(1024 * 1024 + 1)));
    assert.is(tooLarge.status, 413);
    const badUrl = await rawHttp(server.port, `GET /%E0%A4%A?arg=${SECRET} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(badUrl, /^HTTP\/1\.1 400 /);
    const badUrlId = /x-request-id: (\S+)/i.exec(badUrl)?.[1];
    assert.ok(badUrlId, badUrl);

    const [jsonLine] = await linesOf(rec, (l) => l.requestId === badJson.requestId);
    assert.equal([jsonLine.method, jsonLine.route, jsonLine.status], ['GET', '/customer', 400]);
    const [largeLine] = await linesOf(rec, (l) => l.requestId === tooLarge.requestId);
    assert.equal([largeLine.method, largeLine.route, largeLine.status], ['POST', '/customer', 413]);
    const [urlLine] = await linesOf(rec, (l) => l.requestId === badUrlId);
    assert.equal([urlLine.method, urlLine.route, urlLine.status], ['GET', '/%E0%A4%A', 400]);
    assert.is(rec.lines.length, 3, rec.text.join(''));
    for (const text of rec.text) assert.not.ok(text.includes(SECRET), text);
  }),
);

http("a request's x-request-id is kept and answered back; an unfit one is replaced", () =>
  withTelemetry(async (rec) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const kept = await send(`${server.url}/customer?arg=%22x%22`, 'GET', {
      ...auth,
      'x-request-id': 'from-the-proxy-1',
    });
    assert.is(kept.requestId, 'from-the-proxy-1');
    const unfit = 'has spaces and is long '.repeat(10);
    const replaced = await send(`${server.url}/customer?arg=%22x%22`, 'GET', { ...auth, 'x-request-id': unfit });
    assert.match(replaced.requestId!, /^[0-9a-f-]{36}$/);
    const lines = await linesOf(
      rec,
      (l) => l.route === '/customer' && 'durationMs' in l && l.requestId !== kept.requestId,
    );
    assert.equal(
      rec.lines.filter((l) => 'durationMs' in l).map((l) => l.requestId),
      [kept.requestId, replaced.requestId],
    );
    assert.is(lines.length, 1);
    assert.not.ok(rec.text.join('').includes('has spaces'));
  }),
);

http("the handler's log lines carry the persona, component, endpoint, request ID and trace", () =>
  withTelemetry(async (rec) => {
    await served.clients.post({ id: '2', name: 'Al' });
    const span = spanNamed(rec, SpanKind.SERVER, 'POST /customer');
    const access = await linesOf(rec, (l) => l.route === '/customer' && 'durationMs' in l);
    const [line] = rec.lines.filter((l) => l.msg === 'storing a customer');
    assert.ok(line, rec.text.join(''));
    assert.is(line.persona, SERVER_ID);
    assert.is(line.component, SERVER_ID);
    assert.is(line.endpoint, 'POST /customer');
    assert.is(line.requestId, access[0].requestId);
    assert.is(line.trace_id, span.spanContext().traceId);
    assert.is(line.span_id, span.spanContext().spanId);
    // One `component` key, though both the log scope and the line could give one.
    const raw = rec.text.find((t) => t.includes('storing a customer'))!;
    assert.is(raw.split('"component"').length, 2, raw);
  }),
);

http('the bearer token is in no log line and no span', () =>
  withTelemetry(async (rec) => {
    const wrong = `wrong${randomBytes(8).toString('hex')}token`;
    await served.clients.post({ id: '3', name: 'Bo' });
    await served.clients.fail().catch(() => {});
    const refused = await send(`${server.url}/customer`, 'POST', { authorization: `Bearer ${wrong}` });
    assert.is(refused.status, 401);
    const failing = await send(`${server.url}/fail`, 'POST', { authorization: `Bearer ${TOKEN}` });
    assert.is(failing.status, 500);
    await linesOf(rec, (l) => l.status === 500 && l.requestId === failing.requestId);
    await linesOf(rec, (l) => l.status === 401 && l.requestId === refused.requestId);
    assert.ok(rec.lines.length >= 5, rec.text.join(''));
    for (const text of rec.text) {
      assert.not.ok(text.includes(TOKEN), text);
      assert.not.ok(text.includes(wrong), text);
      assert.not.ok(text.toLowerCase().includes('authorization'), text);
    }
    assert.ok(rec.spans().length >= 4);
    for (const span of rec.spans()) assert.not.ok(spanText(span).includes(TOKEN), spanText(span));
  }),
);

http('the request durations: per method, route and status on the server, per attempt on the client', () =>
  withTelemetry(async (rec) => {
    await served.clients.post({ id: '4', name: 'Cy' });
    await served.clients.get(`nobody`).catch(() => {});
    await linesOf(rec, (l) => l.status === 404 && 'durationMs' in l);
    const serverPoints = await histogramPoints(rec, 'http.server.request.duration');
    const ok = serverPoints.find(
      (p) => p.attributes['http.route'] === '/customer' && p.attributes['http.response.status_code'] === 200,
    );
    assert.ok(ok, JSON.stringify(serverPoints.map((p) => p.attributes)));
    assert.equal(ok!.attributes, {
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'infra.component.id': SERVER_ID,
      'http.route': '/customer',
    });
    assert.is(ok!.value.count, 1);
    const seconds = ok!.value.sum ?? 0;
    assert.ok(seconds > 0 && seconds < 5, `${seconds} s`);
    assert.ok(serverPoints.some((p) => p.attributes['http.response.status_code'] === 404));

    const clientPoints = await histogramPoints(rec, 'http.client.request.duration');
    const called = clientPoints.find(
      (p) => p.attributes['http.route'] === '/customer' && p.attributes['http.response.status_code'] === 200,
    );
    assert.ok(called, JSON.stringify(clientPoints.map((p) => p.attributes)));
    assert.is(called!.attributes['server.port'], server.port);
    assert.is(called!.value.count, 1);
  }),
);

http('a 404 without a route is on the metric without one: a path is no route', () =>
  withTelemetry(async (rec) => {
    const answer = await send(`${server.url}/nowhere-${SECRET}`, 'GET', { authorization: `Bearer ${TOKEN}` });
    assert.is(answer.status, 404);
    await linesOf(rec, (l) => l.requestId === answer.requestId);
    const points = await histogramPoints(rec, 'http.server.request.duration');
    const missing = points.find((p) => p.attributes['http.response.status_code'] === 404);
    assert.ok(missing);
    assert.not.ok('http.route' in missing!.attributes, JSON.stringify(missing!.attributes));
  }),
);

// ---------------------------------------------------------------- in one process

const local = suite('api telemetry in one process');
const inProcess = createApi('api-telemetry-local');
const LOCAL_ID = inProcess.api.id.value;
let run: ReturnType<typeof startInProcess>;

local.before(async () => {
  run = startInProcess(inProcess.id, { log: { info() {}, error() {} } });
  await run.start(inProcess.api);
});
local.after(() => run.stop());

for (const manager of ['runtime', 'api'] as const) {
  local(
    `a call is a CLIENT span with its SERVER span as child, without the argument (the ${manager}'s context manager)`,
    () =>
      withTelemetry(async (rec) => {
        assert.equal(await inProcess.clients.post({ id: SECRET, name: SECRET }), { stored: true });
        const { client, served: served_ } = callSpans(rec, 'POST /customer');
        assert.equal(client.attributes, {
          'http.request.method': 'POST',
          'http.route': '/customer',
          'infra.component.id': LOCAL_ID,
          'http.response.status_code': 200,
        });
        assert.equal(served_.attributes, {
          'http.request.method': 'POST',
          'http.route': '/customer',
          'infra.component.id': LOCAL_ID,
          'infra.persona.id': LOCAL_ID,
          'http.response.status_code': 200,
        });
        const line = rec.lines.find((l) => l.msg === 'storing a customer');
        assert.ok(line);
        assert.is(line!.component, LOCAL_ID);
        assert.is(line!.endpoint, 'POST /customer');
        assert.is(line!.trace_id, served_.spanContext().traceId);
        // The server span is the active one where the handler runs.
        assert.is(line!.span_id, served_.spanContext().spanId);
        assert.not.ok('requestId' in line!);
        // No access line: there is no HTTP request.
        assert.not.ok(rec.lines.some((l) => 'durationMs' in l));

        assert.equal(await inProcess.clients.get(SECRET), { id: SECRET, name: SECRET });
        for (const span of rec.spans()) assert.not.ok(spanText(span).includes(SECRET), spanText(span));
      }, manager),
  );
}

local('statuses: 204, an HttpError on both spans, a 500 failing the SERVER span', () =>
  withTelemetry(async (rec) => {
    assert.is(await inProcess.clients.forget('x'), undefined);
    assert.is(spanNamed(rec, SpanKind.CLIENT, 'DELETE /customer').attributes['http.response.status_code'], 204);
    assert.is(spanNamed(rec, SpanKind.SERVER, 'DELETE /customer').attributes['http.response.status_code'], 204);

    await inProcess.clients.get('nobody').catch(() => {});
    const client = spanNamed(rec, SpanKind.CLIENT, 'GET /customer');
    const refused = spanNamed(rec, SpanKind.SERVER, 'GET /customer');
    assert.is(client.attributes['http.response.status_code'], 404);
    assert.is(client.attributes['error.type'], '404');
    assert.is(refused.attributes['http.response.status_code'], 404);
    assert.is(refused.status.code, SpanStatusCode.UNSET);

    await inProcess.clients.fail().catch(() => {});
    const failing = spanNamed(rec, SpanKind.SERVER, 'POST /fail');
    assert.is(failing.status.code, SpanStatusCode.ERROR);
    assert.is(failing.attributes['http.response.status_code'], 500);
    assert.is(parentOf(failing), spanNamed(rec, SpanKind.CLIENT, 'POST /fail').spanContext().spanId);
  }),
);

http.run();
local.run();
