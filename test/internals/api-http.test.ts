/**
 * ApiServer over HTTP: a real Fastify server on 127.0.0.1, called through the typed client
 * functions on the DeployedPlatform (as a deployed persona calls them), and with raw requests
 * for what a client function never sends.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { request, Pool } from 'undici';
// @ts-expect-error -- undici declares the types of its index only
import PoolFromItsFile from 'undici/lib/dispatcher/pool.js';
import { connect } from 'node:net';
import { rootId, ApiServer, HttpError } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { internalErrorMessage } from 'infra-generator/internal/components/api/endpoint';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { freePort } from '../support/free-port.ts';
import { rawRequest, serveApi } from '../support/serve-api.ts';

interface Customer {
  id: string;
  name: string;
}

function capture() {
  const lines: string[] = [];
  const text = (e: unknown) => (e instanceof Error ? ` [${e.message}]` : '');
  return {
    lines,
    log: { info: (m: string) => lines.push(m), error: (m: string, e?: unknown) => lines.push(m + text(e)) },
  };
}

const TOKEN = 'test-token-not-secret';

const serve = (api: ApiServer, extraEnv: Record<string, string> = {}) => serveApi(api, TOKEN, extraEnv);

/** A raw request; `auth` false leaves the token out. */
const raw = (url: string, method: string, options: { body?: string | Buffer; type?: string; auth?: boolean } = {}) =>
  rawRequest(url, method, { ...options, token: options.auth === false ? undefined : TOKEN });

/** An error answer: `{ error, status }` with the status, and no stack or internal text. */
function assertCleanError(answer: Awaited<ReturnType<typeof raw>>, status: number, includes: string) {
  assert.is(answer.status, status, answer.text);
  assert.is(answer.json?.status, status);
  assert.type(answer.json?.error, 'string');
  assert.ok(answer.json!.error.includes(includes), answer.json!.error);
  assert.equal(Object.keys(answer.json!).sort(), ['error', 'status']);
  for (const leak of ['    at ', 'SyntaxError', 'Unexpected token', 'FST_', 'node_modules', 'hunter2']) {
    assert.not.ok(answer.text.includes(leak), `${leak} leaked: ${answer.text}`);
  }
}

// ---------------------------------------------------------------- one server for most tests

const http = suite('api over http');
const id = rootId('http-test');
const api = new ApiServer(id`api`);
const customers = new Map<string, Customer>();
const calls: unknown[] = [];
const postCustomer = api.defineEndpoint(
  '/customer',
  (c: Customer) => {
    customers.set(c.id, c);
  },
  { method: 'POST' },
);
const getCustomer = api.defineEndpoint(
  '/customer',
  (customerId: string) => {
    const c = customers.get(customerId);
    if (!c) throw new HttpError(404, `No customer ${customerId}`);
    return c;
  },
  { method: 'GET' },
);
const putCustomer = api.defineEndpoint(
  '/customer',
  (c: Customer) => {
    customers.set(c.id, c);
    return { replaced: c.id };
  },
  { method: 'PUT' },
);
const deleteCustomer = api.defineEndpoint('/customer', (customerId: string) => customers.delete(customerId), {
  method: 'DELETE',
});
const patchName = api.defineEndpoint(
  '/customer/name',
  (p: { id: string; name: string }) => {
    customers.get(p.id)!.name = p.name;
    return customers.get(p.id);
  },
  { method: 'PATCH' },
);
const whatArg = api.defineEndpoint('/what-arg', (arg?: unknown) => ({ got: arg === undefined ? 'undefined' : arg }), {
  method: 'GET',
});
const postNothing = api.defineEndpoint('/nothing', (arg?: unknown) => ({ got: arg === undefined ? 'undefined' : arg }));
const echo = api.defineEndpoint('/echo', (arg: unknown) => {
  calls.push(arg);
  return arg;
});
const fail = api.defineEndpoint('/fail', () => {
  throw new Error('cannot reach db with password hunter2');
});
const teapot = api.defineEndpoint(
  '/teapot',
  () => {
    throw new HttpError(418, 'I am a teapot');
  },
  { method: 'GET' },
);

let server: Awaited<ReturnType<typeof serve>>;

http.before(async () => {
  server = await serve(api);
});

http.after(async () => {
  server.controller.abort();
  await server.platform.close();
});

http('prints one line when listening', () => {
  assert.equal(server.lines, [`ApiServer http-test.api listening on ${server.url}`]);
});

http('POST, GET, PUT, PATCH and DELETE round trips; the GET argument arrives', async () => {
  assert.is(await postCustomer({ id: '1', name: 'John Doe' }), undefined);
  assert.equal(await getCustomer('1'), { id: '1', name: 'John Doe' });
  assert.equal(await putCustomer({ id: '1', name: 'Jane Doe' }), { replaced: '1' });
  assert.equal(await patchName({ id: '1', name: 'Jo Doe' }), { id: '1', name: 'Jo Doe' });
  assert.is(await deleteCustomer('1'), true);
  assert.is(await deleteCustomer('1'), false);
});

http('arguments survive the query string and the body exactly', async () => {
  const awkward = { text: 'a&b=c?d#e f+g%20 é 😀 "q"', list: [1, 2.5, null, true], nested: { '': 'empty key' } };
  assert.equal(await whatArg(awkward), { got: awkward });
  assert.equal(await whatArg('plain'), { got: 'plain' });
  assert.equal(await whatArg(0), { got: 0 });
  assert.equal(await echo(awkward), awkward);
  assert.equal(await echo(false), false);
  assert.is(await echo(null), null);
});

http('an absent argument is undefined in the query string and in an empty body', async () => {
  assert.equal(await whatArg(), { got: 'undefined' });
  assert.equal(await postNothing(), { got: 'undefined' });
  const emptyJson = await raw(`${server.url}/nothing`, 'POST', { body: '', type: 'application/json' });
  assert.equal(emptyJson.json, { got: 'undefined' });
});

http('undefined comes back as 204 and as undefined', async () => {
  const answer = await raw(`${server.url}/customer`, 'POST', {
    body: JSON.stringify({ id: '2', name: 'x' }),
    type: 'application/json',
  });
  assert.is(answer.status, 204);
  assert.is(answer.text, '');
  assert.is(await echo(undefined), undefined);
});

http('an HttpError reaches the client with its status and message', async () => {
  const err = await getCustomer('nobody').catch((e: unknown) => e);
  assert.instance(err, HttpError);
  assert.is((err as HttpError).status, 404);
  assert.is((err as HttpError).message, 'No customer nobody');
  const tea = await teapot().catch((e: unknown) => e);
  assert.is((tea as HttpError).status, 418);
  assert.is((tea as HttpError).message, 'I am a teapot');
  assertCleanError(await raw(`${server.url}/teapot`, 'GET'), 418, 'I am a teapot');
});

http('any other error is a 500 with a generic message; the internal text is only logged', async () => {
  const before = server.lines.length;
  const err = await fail().catch((e: unknown) => e);
  assert.instance(err, HttpError);
  assert.is((err as HttpError).status, 500);
  const endpoint = api.endpoints.find((e) => e.route === '/fail')!;
  assert.is((err as HttpError).message, internalErrorMessage(endpoint));
  assert.not.ok((err as HttpError).message.includes('hunter2'));
  const logged = server.lines.slice(before).join('\n');
  assert.ok(logged.includes('cannot reach db with password hunter2'), logged);
  assertCleanError(await raw(`${server.url}/fail`, 'POST'), 500, 'Internal error in http-test.api');
});

http('malformed JSON gets 400, in the body and in the query string', async () => {
  for (const body of ['{"id":', 'undefined', "{'a':1}", '[1,]']) {
    assertCleanError(
      await raw(`${server.url}/echo`, 'POST', { body, type: 'application/json' }),
      400,
      'the request body is not valid JSON',
    );
  }
  assertCleanError(
    await raw(`${server.url}/what-arg?arg=%7Bnope`, 'GET'),
    400,
    'the query parameter "arg" is not valid JSON',
  );
  assertCleanError(await raw(`${server.url}/what-arg?arg=1&arg=2`, 'GET'), 400, 'must be given once');
  assert.equal(calls, [
    { text: 'a&b=c?d#e f+g%20 é 😀 "q"', list: [1, 2.5, null, true], nested: { '': 'empty key' } },
    false,
    null,
    undefined,
  ]);
});

http('a content type other than JSON gets 415', async () => {
  assertCleanError(
    await raw(`${server.url}/echo`, 'POST', { body: '"hi"', type: 'text/plain' }),
    415,
    'content type "text/plain" is not accepted',
  );
  assertCleanError(
    await raw(`${server.url}/echo`, 'POST', { body: 'a=1', type: 'application/x-www-form-urlencoded' }),
    415,
    'application/json',
  );
  assertCleanError(
    await raw(`${server.url}/echo`, 'POST', { body: '"hi"' }),
    415,
    'content type (none) is not accepted',
  );
  const charset = await raw(`${server.url}/echo`, 'POST', { body: '"hi"', type: 'application/json; charset=utf-8' });
  assert.is(charset.text, '"hi"');
});

http('a body over the limit gets 413', async () => {
  const big = JSON.stringify('x'.repeat(1024 * 1024 + 10));
  assertCleanError(
    await raw(`${server.url}/echo`, 'POST', { body: big, type: 'application/json' }),
    413,
    'larger than the limit of 1048576 bytes',
  );
  const justUnder = JSON.stringify('y'.repeat(1024 * 1024 - 10));
  assert.is((await raw(`${server.url}/echo`, 'POST', { body: justUnder, type: 'application/json' })).status, 200);
  calls.pop();
});

http('prototype-pollution payloads are refused in the body and in the query string', async () => {
  const count = calls.length;
  const payloads = [
    '{"__proto__":{"polluted":true}}',
    '{"a":{"__proto__":{"polluted":true}}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
  ];
  for (const body of payloads) {
    assertCleanError(
      await raw(`${server.url}/echo`, 'POST', { body, type: 'application/json' }),
      400,
      '"__proto__" or "constructor.prototype" key',
    );
    const query = `${server.url}/what-arg?arg=${encodeURIComponent(body)}`;
    assertCleanError(await raw(query, 'GET'), 400, 'the query parameter "arg" has a "__proto__"');
  }
  assert.is(calls.length, count, 'no handler ran');
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

http(
  'JSON nested deeper than 256 levels is refused with 400 in the body and in the query string; 256 levels pass',
  async () => {
    const count = calls.length;
    const nested = (depth: number) => '['.repeat(depth) + '"]]"' + ']'.repeat(depth);
    const deepObject = '{"a":'.repeat(257) + '1' + '}'.repeat(257);
    for (const body of [nested(257), deepObject, nested(100_000)]) {
      assertCleanError(
        await raw(`${server.url}/echo`, 'POST', { body, type: 'application/json' }),
        400,
        'the request body nests arrays and objects deeper than 256 levels',
      );
    }
    assertCleanError(
      await raw(`${server.url}/what-arg?arg=${encodeURIComponent(nested(257))}`, 'GET'),
      400,
      'the query parameter "arg" nests arrays and objects deeper than 256 levels',
    );
    assert.is(calls.length, count, 'no handler ran');
    // Brackets inside strings do not count, and the limit itself is accepted.
    const deepest = nested(256);
    const ok = await raw(`${server.url}/echo`, 'POST', { body: deepest, type: 'application/json' });
    assert.is(ok.status, 200, ok.text);
    assert.is(ok.text, deepest);
    calls.pop();
    const inString = JSON.stringify('['.repeat(1000));
    assert.is((await raw(`${server.url}/echo`, 'POST', { body: inString, type: 'application/json' })).text, inString);
    calls.pop();
  },
);

http('CONNECT gets a 405 answer, not a dropped connection', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
    socket.write('CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n');
  });
  assert.ok(answer.startsWith('HTTP/1.1 405 '), answer);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; status: number };
  assert.equal(body, { error: 'ApiServer http-test.api is not a proxy: it does not take CONNECT', status: 405 });
});

http('an unknown route gets 404 and a known route with another method 405', async () => {
  assertCleanError(await raw(`${server.url}/nope`, 'GET'), 404, 'ApiServer http-test.api has no endpoint GET /nope');
  const wrong = await raw(`${server.url}/echo?x=1`, 'GET');
  assertCleanError(wrong, 405, '/echo does not take GET; it takes POST');
  assert.is(wrong.headers.allow, 'POST');
  assertCleanError(await raw(`${server.url}/%zz`, 'GET'), 400, 'the request URL "/%zz" is not valid');
});

http('endpoint calls need the bearer token; the health check does not', async () => {
  assertCleanError(
    await raw(`${server.url}/echo`, 'POST', { body: '1', type: 'application/json', auth: false }),
    401,
    'none was sent',
  );
  const wrong = await request(`${server.url}/customer?arg=%221%22`, { headers: { authorization: 'Bearer wrong' } });
  assert.is(wrong.statusCode, 401);
  assert.ok((await wrong.body.text()).includes('the one sent is wrong'));
  const health = await raw(`${server.url}/healthz`, 'GET', { auth: false });
  assert.is(health.status, 200);
  assert.equal(health.json, { status: 'ok', id: 'http-test.api' });
});

http.run();

// ---------------------------------------------------------------- lifecycle and failures

test('on abort the server finishes an in-flight call, refuses new connections, then closes', async () => {
  const root = rootId('http-close');
  const closing = new ApiServer(root`api`);
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => (started = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const slow = closing.defineEndpoint('/slow', async (n: number) => {
    started();
    await released;
    return n * 2;
  });
  const s = await serve(closing);
  const inFlight = slow(21);
  await handlerStarted;
  s.controller.abort();
  // The listener goes away at once; poll (bounded) until a new connection is refused.
  let refused = false;
  for (let i = 0; i < 200 && !refused; i++) {
    refused = await new Promise<boolean>((resolve) => {
      const socket = connect(s.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
  }
  assert.ok(refused, 'new connections are refused while the call is in flight');
  release();
  assert.is(await inFlight, 42);
  await s.platform.close();
});

test('an unreachable server: the error names the API and its URL; a refused connection is tried again for any method', async () => {
  const root = rootId('http-down');
  const down = new ApiServer(root`api`);
  const get = down.defineEndpoint('/x', () => 1, { method: 'GET' });
  const post = down.defineEndpoint('/x', () => 1, { method: 'POST' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const platform = new DeployedPlatform({
    env: { [wiring.apiUrl(down.id)]: url, [wiring.apiToken(down.id)]: TOKEN },
    persona: down,
    log: capture().log,
  });
  down.app.enter('runtime', platform);
  try {
    const getErr = (await get().catch((e: unknown) => e)) as Error & { code: string };
    assert.is(getErr.code, 'INFRA_API_UNREACHABLE');
    assert.is(
      getErr.message,
      `ApiServer http-down.api at ${url}: GET /x failed, the connection was refused (3 attempts). Check that the server is running and that its URL is right`,
    );
    const postErr = (await post().catch((e: unknown) => e)) as Error;
    assert.is(
      postErr.message,
      `ApiServer http-down.api at ${url}: POST /x failed, the connection was refused (3 attempts). Check that the server is running and that its URL is right`,
    );
  } finally {
    await platform.close();
  }
});

test('a port in use: serving fails with an error naming the API and the address', async () => {
  const first = new ApiServer(rootId('http-first')`api`, { public: true });
  const s = await serve(first);
  const root = rootId('http-second');
  const second = new ApiServer(root`api`, { public: true });
  const platform = new DeployedPlatform({
    env: { [wiring.apiPort(second.id)]: String(s.port), [wiring.listenHost]: '127.0.0.1' },
    persona: second,
    log: capture().log,
  });
  second.app.enter('runtime', platform);
  try {
    const err = (await runAs(second.app, second, () => second.start(new AbortController().signal)).catch(
      (e: unknown) => e,
    )) as Error & { code: string };
    assert.is(err.code, 'INFRA_LISTEN_FAILED');
    assert.ok(err.message.startsWith(`ApiServer http-second.api cannot listen on 127.0.0.1:${s.port} (`), err.message);
  } finally {
    s.controller.abort();
    await s.platform.close();
    await platform.close();
  }
});

test('a missing API URL or token names the persona and the API', async () => {
  const root = rootId('http-unwired');
  const unwired = new ApiServer(root`api`);
  const get = unwired.defineEndpoint('/x', () => 1, { method: 'GET' });
  const env: NodeJS.ProcessEnv = {};
  const platform = new DeployedPlatform({ env, persona: unwired, log: capture().log });
  unwired.app.enter('runtime', platform);
  const noUrl = (await get().catch((e: unknown) => e)) as Error;
  assert.ok(
    noUrl.message.startsWith(
      'Persona http-unwired.api does not know where ApiServer http-unwired.api is (environment variable HTTP_UNWIRED__API__URL is not set)',
    ),
    noUrl.message,
  );
  env[wiring.apiUrl(unwired.id)] = 'http://127.0.0.1:1';
  const noToken = (await get().catch((e: unknown) => e)) as Error;
  assert.ok(
    noToken.message.startsWith(
      'Secret http-unwired.api.token has no value in persona http-unwired.api (environment variable HTTP_UNWIRED__API__TOKEN is not set)',
    ),
    noToken.message,
  );
  await platform.close();
});

test("the client's Pool, taken from undici's own file for a faster start, is the Pool undici exports", () => {
  assert.is(PoolFromItsFile, Pool);
});

test.run();
