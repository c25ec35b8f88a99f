/**
 * What an endpoint call gives at the edges, the same in one process and over HTTP: a handler
 * past its deadline (504, and its signal aborts), a server shutting down under a handler (its
 * signal aborts), GET and DELETE arguments too long for a URL, arguments over the body limit
 * (413), and store keys a caller got wrong (400, not 500). The same app is run in both modes and
 * every answer must match, message for message; raw requests cover what a client function
 * never sends.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'undici';
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Type } from 'typebox';
import { rootId, ApiServer, HttpError, InfraError, Store, startInProcess } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { freePort } from './support/free-port.ts';
import { errors } from 'infra-generator/internal/core/errors';

const TOKEN = 'hardening-token-not-secret';
const MiB = 1024 * 1024;

/** A log that keeps info and error lines apart. */
function capture() {
  const info: string[] = [];
  const error: string[] = [];
  return {
    info,
    error,
    log: {
      info: (m: string) => info.push(m),
      error: (m: string, e?: unknown) => error.push(m + (e instanceof Error ? ` [${e.message}]` : '')),
    },
  };
}

/** The app under test; `root` tells the two runs apart. */
function createApp(root: string) {
  const id = rootId(root);
  const api = new ApiServer(id`api`);
  const db = new Store<{ name: string }>(id`db`);
  const byName = new db.Index(id`by-name`, function* (value) {
    yield { indexKey: value.name };
  });
  /** Why each handler's signal aborted, in order. */
  const aborted: unknown[] = [];
  let handlerStarted: () => void = () => {};
  const clients = {
    slow: api.defineEndpoint(
      '/slow',
      (_arg: void, { signal }) =>
        new Promise<string>((resolve) => {
          // Only a guard: without a deadline the call would answer this after 5 s.
          const guard = setTimeout(() => resolve('no deadline'), 5_000);
          signal.addEventListener('abort', () => {
            clearTimeout(guard);
            aborted.push(signal.reason);
            resolve('aborted');
          });
        }),
      { method: 'GET', timeout: 200 },
    ),
    untilStopped: api.defineEndpoint('/until-stopped', async (_arg: void, context) => {
      handlerStarted();
      const { signal } = context;
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      aborted.push('stopped');
      signal.throwIfAborted();
    }),
    getLength: api.defineEndpoint('/length', (text: string) => text.length, { method: 'GET' }),
    deleteLength: api.defineEndpoint('/length', (text: string) => text.length, { method: 'DELETE' }),
    checkedLength: api.defineEndpoint('/checked', (text) => text.length, {
      method: 'GET',
      input: Type.String({ maxLength: 30_000 }),
    }),
    echo: api.defineEndpoint('/echo', (arg: unknown) => arg),
    text: api.defineEndpoint('/text', (length: number) => 'x'.repeat(length), { method: 'GET' }),
    // No input schema: whatever the caller sends becomes the key.
    getCustomer: api.defineEndpoint('/customer', (key: string) => db.get(key), { method: 'GET' }),
    putCustomer: api.defineEndpoint('/customer', (key: string) => db.set(key, { name: 'x' }), { method: 'PUT' }),
    byName: api.defineEndpoint('/by-name', (name: string) => byName.get(name), { method: 'GET' }),
    // What a read of an index gives while the index is rebuilt past the store's deadline.
    rebuilding: api.defineEndpoint('/rebuilding', () => {
      throw errors.indexRebuilding(byName.id.value, '41 of 100 values, 41 %', 6);
    }),
  };
  const started = () => new Promise<void>((resolve) => (handlerStarted = resolve));
  return { id, api, clients, aborted, started };
}

type App = ReturnType<typeof createApp>;

/** What a call answered: its value as JSON, or the HttpError's status and message (root names made alike). */
async function outcome(root: string, call: Promise<unknown>): Promise<string> {
  try {
    return `ok ${JSON.stringify(await call)}`;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return `${err.status} ${err.message.replaceAll(root, '<root>')}`;
  }
}

const longText = 'é'.repeat(10_000) + 'x&?#%'.repeat(2_000);
const overLimit = 'y'.repeat(MiB + 10);
const badKeys: [string, unknown][] = [
  ['no argument', undefined],
  ['a number', 5],
  ['an object', {}],
  ['an empty string', ''],
  ['NUL', '\u0000'],
  ['a lone surrogate', 'a\ud800b'],
];

/** Every case, run through the client functions; resolves to what each answered. */
async function runCases(root: string, { clients, aborted }: App): Promise<string[]> {
  const answers: string[] = [];
  const call = async (name: string, promise: Promise<unknown>) =>
    answers.push(`${name}: ${await outcome(root, promise)}`);

  await call('a handler past its deadline', clients.slow());
  const reason = aborted[0];
  answers.push(
    `its signal aborted with: ${reason instanceof HttpError ? `${reason.status} ${reason.message}` : String(reason)}`.replaceAll(
      root,
      '<root>',
    ),
  );

  assert.is(longText.length, 20_000);
  await call('a long GET argument', clients.getLength(longText));
  await call('a long DELETE argument', clients.deleteLength(longText));
  await call('a long GET argument passes its schema', clients.checkedLength('z'.repeat(29_000)));
  await call('a long GET argument fails its schema', clients.checkedLength('z'.repeat(30_001)));
  await call('a GET argument over the body limit', clients.getLength(overLimit));
  await call('a DELETE argument over the body limit', clients.deleteLength(overLimit));
  await call('a POST argument over the body limit', clients.echo(overLimit));
  await call(
    'a POST argument at the limit',
    clients.echo('w'.repeat(MiB - 2)).then((v) => (v as string).length),
  );

  await call(
    'an answer at the limit',
    clients.text(8 * MiB - 2).then((text) => text.length),
  );
  await call('an answer over the limit', clients.text(8 * MiB + 1));

  for (const [name, key] of badKeys) {
    await call(`GET with ${name} as the key`, clients.getCustomer(key as string));
    await call(`PUT with ${name} as the key`, clients.putCustomer(key as string));
  }
  await call('a number as an index key', clients.byName(5 as never));
  // Over the store's limit of a key's bytes (1 KiB): the message is the store's own.
  const tooLong = await outcome(root, clients.getCustomer('k'.repeat(2_000)));
  answers.push(`a key too long: ${tooLong.startsWith('400 Store <root>.db: a key of 2000 bytes') ? '400' : tooLong}`);
  await call('an index being rebuilt', clients.rebuilding());
  return answers;
}

const expected = [
  'a handler past its deadline: 504 Timeout in <root>.api (GET /slow): the handler did not answer within 200 ms',
  'its signal aborted with: 504 Timeout in <root>.api (GET /slow): the handler did not answer within 200 ms',
  'a long GET argument: ok 20000',
  'a long DELETE argument: ok 20000',
  'a long GET argument passes its schema: ok 29000',
  'a long GET argument fails its schema: 400 Invalid argument to <root>.api (GET /checked): the argument must not have more than 30000 characters',
  'a GET argument over the body limit: 413 ApiServer <root>.api: the argument of GET /length is larger than the limit of 1048576 bytes (as JSON text)',
  'a DELETE argument over the body limit: 413 ApiServer <root>.api: the argument of DELETE /length is larger than the limit of 1048576 bytes (as JSON text)',
  'a POST argument over the body limit: 413 ApiServer <root>.api: the argument of POST /echo is larger than the limit of 1048576 bytes (as JSON text)',
  'a POST argument at the limit: ok 1048574',
  'an answer at the limit: ok 8388606',
  "an answer over the limit: 500 Internal error in <root>.api (GET /text); the server's log has the details",
  ...badKeys.flatMap(([name, key]) => {
    const message =
      typeof key === 'string' && key.length > 0
        ? `Store <root>.db: key ${JSON.stringify(key)} contains U+0000 or an unpaired surrogate, which PostgreSQL cannot hold; use well-formed Unicode text without NUL`
        : `Store <root>.db: a key must be a non-empty string, got ${key === '' ? '""' : key === undefined ? 'undefined' : typeof key}`;
    return [`GET with ${name} as the key: 400 ${message}`, `PUT with ${name} as the key: 400 ${message}`];
  }),
  'a number as an index key: 400 Index <root>.by-name: get() takes a string index key',
  'a key too long: 400',
  'an index being rebuilt: 503 Service unavailable in <root>.api (POST /rebuilding): an index it reads is being rebuilt; try again shortly',
];

/** The server's error lines after runCases: the timeout, the answer too large, the index being rebuilt. */
const loggedErrors = (root: string) => [
  `ApiServer ${root}.api GET /slow: Timeout in ${root}.api (GET /slow): the handler did not answer within 200 ms`,
  `ApiServer ${root}.api GET /text: the value it returned is 8388611 bytes as JSON, more than the 8388608 an answer may have; return less per call (a page of the results)`,
  `ApiServer ${root}.api POST /rebuilding: handler failed [Index ${root}.by-name is being rebuilt, as its indexer changed (41 of 100 values, 41 %); reads of it wait for the new index and this one gave up after 6 s. Retry shortly]`,
];

// ---------------------------------------------------------------- in one process

const local = suite('in one process');
const inProcess = createApp('hardening-local');
const localLog = capture();
let run: ReturnType<typeof startInProcess>;

local.before(async () => {
  run = startInProcess(inProcess.id, { log: localLog.log });
  await run.start(inProcess.api);
});

local("every case answers as expected; a caller's bad key is noted, not logged as an error", async () => {
  const answers = await runCases('hardening-local', inProcess);
  assert.equal(answers, expected);
  assert.equal(localLog.error, loggedErrors('hardening-local'));
  assert.is(localLog.info.filter((l) => l.includes("refused the caller's key")).length, badKeys.length * 2 + 2);
  // (Over HTTP this would need a database.)
  assert.is(await inProcess.clients.getCustomer('nobody'), undefined, 'a good key still works');
});

local("stopping the run aborts a running handler's signal; its caller gets 503", async () => {
  const started = inProcess.started();
  const call = outcome('hardening-local', inProcess.clients.untilStopped());
  await started;
  await run.stop();
  assert.is(
    await call,
    '503 Service unavailable in <root>.api (POST /until-stopped): the server is shutting down; try again shortly',
  );
  assert.equal(inProcess.aborted.slice(-1), ['stopped']);
});

local.run();

// ---------------------------------------------------------------- over HTTP

/** Serves `api` over HTTP on 127.0.0.1 as a deployed persona does, with `server` options. */
async function serve(api: ApiServer, server: ConstructorParameters<typeof DeployedPlatform>[0]['server'] = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logged = capture();
  const platform = new DeployedPlatform({
    env: {
      [wiring.apiPort(api.id)]: String(port),
      [wiring.listenHost]: '127.0.0.1',
      [wiring.apiUrl(api.id)]: url,
      [wiring.apiToken(api.id)]: TOKEN,
    },
    persona: api,
    log: logged.log,
    server,
  });
  api.app.enter('runtime', platform);
  const controller = new AbortController();
  await runAs(api.app, api, () => api.start(controller.signal));
  return { port, url, platform, controller, ...logged };
}

const http = suite('over HTTP');
const deployed = createApp('hardening-http');
let served: Awaited<ReturnType<typeof serve>>;

http.before(async () => {
  served = await serve(deployed.api);
});
http.after(async () => {
  served.controller.abort();
  await served.platform.close();
});

http("every case answers as in one process; a caller's bad key is noted, not logged as an error", async () => {
  const answers = await runCases('hardening-http', deployed);
  assert.equal(answers, expected);
  assert.equal(served.error, loggedErrors('hardening-http'));
  assert.is(served.info.filter((l) => l.includes("refused the caller's key")).length, badKeys.length * 2 + 2);
});

/** A raw request with the token (unless `authorization` says otherwise). */
async function raw(path: string, method: string, options: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await request(`${served.url}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

http('a long argument in the URL itself is still refused (431), in JSON', async () => {
  const answer = await raw(`/length?arg=${encodeURIComponent(JSON.stringify(longText))}`, 'GET');
  assert.is(answer.status, 431);
  assert.equal(answer.json, {
    error: 'ApiServer hardening-http.api: the request headers (with the URL) are larger than the server takes',
    status: 431,
  });
});

http('x-http-method-override is taken only on a POST to a GET or DELETE endpoint, with the token', async () => {
  const body = JSON.stringify('abc');
  const override = (method: string) => ({ 'x-http-method-override': method });
  assert.equal((await raw('/length', 'POST', { body, headers: override('GET') })).json, 3 as never);
  assert.equal((await raw('/length', 'POST', { body, headers: override('DELETE') })).json, 3 as never);
  const noToken = await raw('/length', 'POST', { body, headers: { ...override('GET'), authorization: '' } });
  assert.is(noToken.status, 401);
  const both = await raw('/length?arg=%22a%22', 'POST', { body, headers: override('GET') });
  assert.is(both.status, 400);
  assert.match(String(both.json?.error), 'carries its argument in the body, not in the query parameter "arg"');
  for (const [path, method, header, status] of [
    ['/echo', 'POST', 'GET', 405],
    ['/length', 'POST', 'PUT', 405],
    ['/length', 'PUT', 'GET', 405],
    ['/length', 'GET', 'GET', 405],
    ['/nope', 'POST', 'GET', 404],
  ] as const) {
    const answer = await raw(path, method, { body: method === 'GET' ? undefined : body, headers: override(header) });
    assert.is(answer.status, status, `${method} ${path} as ${header}: ${answer.text}`);
    assert.equal(Object.keys(answer.json ?? {}).sort(), ['error', 'status']);
    assert.match(String(answer.json?.error), `has no endpoint for ${method} with x-http-method-override: ${header}`);
  }
  // The override route parses its body like any other: not JSON is refused.
  const bad = await raw('/length', 'POST', { body: '{"a":', headers: override('GET') });
  assert.is(bad.status, 400);
});

http('a number beyond a double (1e400) is refused with 400, in the body and in the query string', async () => {
  for (const text of ['1e400', '-1e400', '[1E+400]', '{"a":{"b":-2.5e999}}', '1' + '0'.repeat(400)]) {
    const body = await raw('/echo', 'POST', { body: text });
    assert.is(body.status, 400, `${text}: ${body.text}`);
    assert.equal(body.json, {
      error:
        'ApiServer hardening-http.api: the request body holds a number too large for a double (such as 1e400), which is not accepted',
      status: 400,
    });
    const query = await raw(`/length?arg=${encodeURIComponent(text)}`, 'GET');
    assert.is(query.status, 400, `${text}: ${query.text}`);
    assert.match(String(query.json?.error), 'the query parameter "arg" holds a number too large for a double');
  }
  // Numbers a double holds pass, and so does text that only looks like one.
  for (const text of ['1e300', '-1.5E-400', '"1e400"', '{"e1e400":true}', '[1,2e3,true,false]']) {
    const answer = await raw('/echo', 'POST', { body: text });
    assert.is(answer.status, 200, `${text}: ${answer.text}`);
    assert.equal(answer.json, JSON.parse(text));
  }
});

http(
  'the bearer scheme is case-insensitive and may be followed by several spaces; the token is case-sensitive',
  async () => {
    for (const scheme of ['bearer ', 'BEARER ', 'bEaReR ', 'Bearer   ']) {
      const answer = await raw('/length?arg=%22ab%22', 'GET', { headers: { authorization: `${scheme}${TOKEN}` } });
      assert.is(answer.status, 200, `${scheme}: ${answer.text}`);
    }
    for (const authorization of [
      `bearer ${TOKEN.toUpperCase()}`,
      `bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      `bearer${TOKEN}`,
      `bearer\t${TOKEN}`,
    ]) {
      assert.is((await raw('/length?arg=%22ab%22', 'GET', { headers: { authorization } })).status, 401, authorization);
    }
  },
);

/** Sends `bytes` on a connection of its own; resolves to what came back once the server closed it. */
function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    // Only a guard against a server that never closes: the answers come at once.
    const guard = setTimeout(() => socket.destroy(), 10_000);
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(guard);
      resolve(text);
    });
    socket.write(bytes);
  });
}

http("what Node's HTTP parser refuses is answered { error, status } in JSON, and the connection closed", async () => {
  const head = `Host: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n`;
  const cases: [string, string, number][] = [
    [
      'smuggling',
      `PUT /customer HTTP/1.1\r\n${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    ['a bad chunk', `PUT /customer HTTP/1.1\r\n${head}Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`, 400],
    ['NUL in a header', `GET /length?arg=%22a%22 HTTP/1.1\r\n${head}X-Nul: a\u0000b\r\n\r\n`, 400],
    ['a header too large', `GET /length?arg=%22a%22 HTTP/1.1\r\n${head}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ];
  for (const [name, bytes, status] of cases) {
    const answer = await sendRaw(served.port, bytes);
    assert.ok(answer.startsWith(`HTTP/1.1 ${status} `), `${name}: ${answer}`);
    assert.ok(/\r\nconnection: close\r\n/i.test(answer), `${name}: ${answer}`);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    assert.equal(Object.keys(body).sort(), ['error', 'status'], name);
    assert.is(body.status, status, name);
    assert.match(String(body.error), 'ApiServer hardening-http.api: the request', name);
  }
});

http.run();

// ---------------------------------------------------------------- connections

test('a client that sends its headers a byte a second is cut off within the headers timeout (10 s)', async () => {
  const app = createApp('hardening-slow');
  const s = await serve(app.api);
  const socket = connect(s.port, '127.0.0.1');
  let answer = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => {});
  const started = Date.now();
  let dribble: NodeJS.Timeout | undefined;
  try {
    const closedWithin = await new Promise<number>((resolve) => {
      // Past the bound the test fails; waiting longer would only make it slower.
      const guard = setTimeout(() => resolve(Number.POSITIVE_INFINITY), 15_000);
      socket.once('close', () => {
        clearTimeout(guard);
        resolve(Date.now() - started);
      });
      socket.write('GET /length?arg=%22a%22 HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      dribble = setInterval(() => socket.write('X'), 1_000);
    });
    assert.ok(closedWithin < 15_000, `the connection was still open after 15 s`);
    assert.ok(answer.startsWith('HTTP/1.1 408 '), answer);
    assert.match(answer, 'the request did not arrive in time (its headers are due within 10000 ms');
  } finally {
    clearInterval(dribble);
    socket.destroy();
    s.controller.abort();
    await s.platform.close();
  }
});

test('a client that stops reading its answer is cut off once nothing has moved for the idle limit', async () => {
  const app = createApp('hardening-idle');
  const s = await serve(app.api, { connectionTimeoutMs: 400 });
  const socket = connect(s.port, '127.0.0.1');
  socket.on('error', () => {});
  try {
    // 4 MiB: far more than the socket buffers hold, so the answer stalls once the client stops reading.
    socket.write(`GET /text?arg=${4 * MiB} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    socket.pause();
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Read what came, then see the connection end short of the answer: the server destroyed it.
    let received = 0;
    const ended = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    const closedAfter = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(Infinity), 5_000))]);
    assert.ok(closedAfter < 5_000, 'the connection was still open');
    assert.ok(received > 0 && received < 4 * MiB, `received ${received} bytes of a 4 MiB answer`);
  } finally {
    socket.destroy();
    s.controller.abort();
    await s.platform.close();
  }
});

test('a connection that keeps moving is not cut off by the idle limit', async () => {
  const app = createApp('hardening-busy');
  const s = await serve(app.api, { connectionTimeoutMs: 300 });
  try {
    // Calls on one kept-alive connection for three times the limit, each well within it.
    const url = `${s.url}/length?arg=${encodeURIComponent('"abc"')}`;
    const headers = { authorization: `Bearer ${TOKEN}` };
    const until = Date.now() + 900;
    let calls = 0;
    while (Date.now() < until) {
      const answer = await request(url, { headers });
      assert.is(answer.statusCode, 200);
      await answer.body.text();
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(calls >= 5);
  } finally {
    s.controller.abort();
    await s.platform.close();
  }
});

test('connections over the limit are closed at once; the others are served', async () => {
  const app = createApp('hardening-connections');
  const s = await serve(app.api, { maxConnections: 2 });
  const open: Socket[] = [];
  const get = `GET /length?arg=%22abc%22 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
  /** A kept-alive connection that has had one answer (so the server surely counts it). */
  const served = () =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1');
      socket.setEncoding('latin1').once('data', (chunk: string) => {
        if (chunk.startsWith('HTTP/1.1 200 ')) resolve(socket);
        else reject(new Error(chunk));
      });
      socket.once('error', reject);
      socket.write(get);
    });
  try {
    open.push(await served(), await served());
    assert.is(await sendRaw(s.port, get), '', 'a third connection is closed unanswered');
    open.shift()!.destroy();
    // The server frees the slot when it sees the close: poll (bounded) until a new connection is served.
    let answer = '';
    for (let i = 0; i < 100 && !answer; i++)
      answer = await sendRaw(s.port, get.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    assert.ok(answer.startsWith('HTTP/1.1 200 '), answer);
  } finally {
    for (const socket of open) socket.destroy();
    s.controller.abort();
    await s.platform.close();
  }
});

test('an answer larger than the client reads (8 MiB) fails the call, naming the server', async () => {
  const app = createApp('hardening-answer');
  // Something that is not this ApiServer answers a huge body, chunk by chunk (no content-length).
  const fake = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('"');
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 9 * MiB) {
        sent += chunk.length;
        if (!response.write(chunk)) return void response.once('drain', more);
      }
      response.end('"');
    };
    more();
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  const platform = new DeployedPlatform({
    env: { [wiring.apiUrl(app.api.id)]: url, [wiring.apiToken(app.api.id)]: TOKEN },
    persona: app.api,
    log: capture().log,
  });
  app.api.app.enter('runtime', platform);
  try {
    const err = await app.clients.getLength('a').catch((e: unknown) => e);
    assert.instance(err, InfraError);
    assert.is((err as InfraError).code, 'INFRA_API_ANSWER_TOO_LARGE');
    assert.is(
      (err as InfraError).message,
      `ApiServer hardening-answer.api at ${url}: GET /length answered more than 8388608 bytes, the most a client reads of an answer; return less per call (a page of the results), or check that this ApiServer is what listens there`,
    );
  } finally {
    await platform.close();
    fake.closeAllConnections();
    await new Promise((resolve) => fake.close(resolve));
  }
});

// ---------------------------------------------------------------- both modes, and misuse

test('a handler on its way out when the HTTP server stops: its signal aborts and its caller gets 503', async () => {
  const app = createApp('hardening-stop');
  const s = await serve(app.api);
  try {
    const started = app.started();
    const call = outcome('hardening-stop', app.clients.untilStopped());
    await started;
    s.controller.abort();
    assert.is(
      await call,
      '503 Service unavailable in <root>.api (POST /until-stopped): the server is shutting down; try again shortly',
    );
    assert.equal(app.aborted, ['stopped']);
  } finally {
    await s.platform.close();
  }
});

test('a timeout that is not a whole number of milliseconds is refused at startup', () => {
  const api = new ApiServer(rootId('hardening-misuse')`api`);
  for (const timeout of [0, -1, 1.5, 2 ** 31, Number.NaN, '5000']) {
    const err = (() => {
      try {
        api.defineEndpoint('/x', () => 1, { timeout: timeout as number });
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, InfraError, String(timeout));
    assert.is((err as InfraError).code, 'INFRA_INVALID_TIMEOUT');
    assert.match((err as InfraError).message, 'ApiServer hardening-misuse.api: the timeout of POST /x must be');
  }
});

// Typing (checked by `npm run typecheck`): a handler that takes the context leaves the client
// function's type as it was.
function typing(api: ApiServer) {
  const plain: (text: string) => Promise<number> = api.defineEndpoint('/a', (text: string) => text.length);
  const withSignal: (text: string) => Promise<number> = api.defineEndpoint(
    '/b',
    (text: string, { signal }) => (signal.aborted ? 0 : text.length),
    { timeout: 5_000 },
  );
  const checked: (text: string) => Promise<number> = api.defineEndpoint(
    '/c',
    (text, { signal }) => (signal.aborted ? 0 : text.length),
    { input: Type.String(), timeout: 5_000 },
  );
  const none: () => Promise<number> = api.defineEndpoint('/d', () => 1, { method: 'GET', timeout: 100 });
  // @ts-expect-error the client takes the argument only, never the context
  void withSignal('a', { signal: new AbortController().signal });
  // @ts-expect-error a timeout is a number of milliseconds
  api.defineEndpoint('/e', () => 1, { timeout: '5s' });
  return [plain, withSignal, checked, none];
}
void typing;

test.run();
