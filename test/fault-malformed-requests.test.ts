/**
 * A thousand malformed requests against an ApiServer served over HTTP by the DeployedPlatform
 * in this process (so a polluted Object.prototype would show here): bad JSON, wrong types,
 * huge bodies, headers and URLs, prototype-pollution payloads, odd methods, paths and query
 * arguments, broken framing. Each is sent as raw bytes on its own loopback connection, so
 * nothing a client library would refuse to send is left out.
 *
 * Every answer must be a 4xx that carries no internal text (no stack, no error class, no
 * Fastify code, no file path), no handler may have failed, Object.prototype must be clean, and
 * the server must still answer correctly afterwards. test/internals/api-http.test.ts covers each kind
 * once, with its exact message; this one covers many variants of each, mixed, in number.
 * The handlers check their argument and throw HttpError(400) when it is wrong: a TypeScript
 * type is not checked at run time, so that is how an endpoint refuses a wrong type.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { rootId, ApiServer, HttpError, onDeploy } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { freePort } from './support/free-port.ts';

const COUNT = 1000;
const CONCURRENCY = 8;
/** A guard against a hang, far above what the loop needs; not a speed measurement. */
const GUARD_SECONDS = 120;
const TOKEN = 'fuzz-token-not-secret';

interface Customer {
  id: string;
  name: string;
}

const isCustomer = (c: unknown): c is Customer =>
  typeof c === 'object' &&
  c !== null &&
  !Array.isArray(c) &&
  typeof (c as Customer).id === 'string' &&
  typeof (c as Customer).name === 'string';

// ---------------------------------------------------------------- the server under test

const id = rootId('fuzz');
const api = new ApiServer(id`api`);
const customers = new Map<string, Customer>([['1', { id: '1', name: 'John Doe' }]]);
const putCustomer = api.defineEndpoint(
  '/customer',
  (c: Customer) => {
    if (!isCustomer(c)) throw new HttpError(400, 'expected { id: string, name: string }');
    customers.set(c.id, { id: c.id, name: c.name });
    return { stored: c.id };
  },
  { method: 'PUT' },
);
const getCustomer = api.defineEndpoint(
  '/customer',
  (customerId: string) => {
    if (typeof customerId !== 'string') throw new HttpError(400, 'expected a customer id (a string)');
    const c = customers.get(customerId);
    if (!c) throw new HttpError(404, `No customer ${customerId.slice(0, 50)}`);
    return c;
  },
  { method: 'GET' },
);
api.defineEndpoint(
  '/customer',
  (customerId: string) => {
    if (typeof customerId !== 'string') throw new HttpError(400, 'expected a customer id (a string)');
    throw new HttpError(403, 'customers are never deleted');
  },
  { method: 'DELETE' },
);
api.defineEndpoint(
  '/customer/name',
  (p: { id: string; name: string }) => {
    if (!isCustomer(p)) throw new HttpError(400, 'expected { id: string, name: string }');
    if (!customers.has(p.id)) throw new HttpError(404, `No customer ${p.id.slice(0, 50)}`);
    throw new HttpError(409, 'renaming is closed today');
  },
  { method: 'PATCH' },
);
const client = onDeploy(id`client`, async () => {}, { uses: [api] });

// ---------------------------------------------------------------- requests as raw bytes

interface Malformed {
  kind: string;
  /** The request as sent. */
  bytes: Buffer;
  /** Close our side after sending (a truncated request). */
  halfClose?: boolean;
}

/** A seeded generator (mulberry32, so a failure replays; FAULT_SEED picks another run): an integer in [0, n). */
let seed = Number(process.env.FAULT_SEED ?? 0xfa17);
function int(n: number): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
}
const pick = <T>(items: readonly T[]): T => items[int(items.length)];

const AUTH = `Bearer ${TOKEN}`;
const enc = (text: string) => encodeURIComponent(text);

function request(
  method: string,
  target: string,
  options: {
    headers?: [string, string][];
    body?: string | Buffer;
    auth?: string | null;
    type?: string | null;
    length?: number | null;
  } = {},
): Buffer {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  if (options.auth !== null) lines.push(`Authorization: ${options.auth ?? AUTH}`);
  if (body && options.type !== null) lines.push(`Content-Type: ${options.type ?? 'application/json'}`);
  if (body && options.length !== null) lines.push(`Content-Length: ${options.length ?? body.length}`);
  for (const [name, value] of options.headers ?? []) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

const validCustomer = JSON.stringify({ id: '2', name: 'Jane Doe' });
const badJson = [
  '{',
  '}',
  '{"id":',
  '{"id":"2","name":}',
  "{'id':'2'}",
  '{id:"2"}',
  '[1,]',
  '{"a":1,}',
  'undefined',
  'NaN',
  'Infinity',
  '-',
  '01',
  '1e',
  '"unterminated',
  '"\\x41"',
  '"\\u12"',
  'tru',
  'nul',
  '{"a" "b"}',
  '{"a":1 "b":2}',
  '\u0000',
  '\ufeff{"id":"2"}',
  '/* comment */ {}',
  '{"id":"2"} trailing',
  '[',
  ']',
  '{"id":"2","name":"x"}{"id":"3"}',
  ' ',
  '\t\n',
  '[[[[[[[[[[',
];
const wrongTypes = [
  '1',
  '0',
  '-1',
  '1.5',
  'true',
  'false',
  'null',
  '"2"',
  '""',
  '[]',
  '{}',
  '[{"id":"2","name":"x"}]',
  '{"id":2,"name":"x"}',
  '{"id":"2","name":null}',
  '{"id":"2"}',
  '{"name":"x"}',
  '{"id":["2"],"name":"x"}',
  '{"id":{"$ne":null},"name":"x"}',
  '{"id":"2","name":{"toString":"x"}}',
  '"' + 'x'.repeat(5000) + '"',
  JSON.stringify('a'.repeat(100) + '\u0000'),
  '['.repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
];
const pollution = [
  '{"__proto__":{"polluted":1}}',
  '{"id":"2","name":"x","__proto__":{"polluted":1}}',
  '{"a":{"__proto__":{"polluted":1}}}',
  '[{"__proto__":{"polluted":1}}]',
  '{"\\u005f_proto__":{"polluted":1}}',
  '{"__pro\\u0074o__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"id":"2","name":"x","constructor":{"prototype":{"polluted":1}}}',
  '{"a":[{"constructor":{"prototype":{"polluted":1}}}]}',
  '{"__proto__":null}',
  '{"__proto__":[]}',
  '{"__proto__":{"__proto__":{"polluted":1}}}',
  '{"constructor":{"prototype":null}}',
];
const oddMethods = [
  'PROPFIND',
  'TRACE',
  'OPTIONS',
  'HEAD',
  'PURGE',
  'SEARCH',
  'FOO',
  'get',
  'Get',
  'M-SEARCH',
  'LINK',
  'MKCOL',
  'COPY',
  'LOCK',
  'REPORT',
  'X'.repeat(200),
  'GET\u0000',
  'PO ST',
];
const oddPaths = [
  '/',
  '//customer',
  '/customer/',
  '/customer//',
  '/Customer',
  '/CUSTOMER',
  '/customer/name/',
  '/customer/name/x',
  '/customer;x',
  '/customer%00',
  '/customer%2F',
  '/%2e%2e/customer',
  '/../customer',
  '/./customer',
  '/customer/..',
  '/..%2f..%2fetc%2fpasswd',
  '/%',
  '/%zz',
  '/%%',
  '/%c0%af',
  '/%ff%fe',
  '/customer%20',
  '/\u00e9',
  '/%E2%82%AC',
  '/nope#/customer',
  '/healthz/',
  '/healthz/../customer',
  '/node_modules/fastify/package.json',
  '/' + 'a'.repeat(3000),
  '*',
  'customer',
  'http://evil.example/nope',
  '/customer\\',
];
const badQueries = [
  '',
  'arg=',
  'arg=%',
  'arg=%zz',
  'arg=%22',
  'arg[]=1',
  'arg[a]=1',
  'arg=1&arg=2',
  'arg=%221%22&arg=%222%22',
  'arg=undefined',
  'arg=NaN',
  'arg=' + enc('{"__proto__":{"polluted":1}}'),
  'arg=' + enc('{"constructor":{"prototype":{"polluted":1}}}'),
  'arg=' + '%5B'.repeat(2000),
  'arg=' + enc(JSON.stringify({ id: 1 })),
  'arg=1',
  'arg=true',
  'arg=null',
  'arg=' + enc('[]'),
  'arg=' + enc('{}'),
  'arg=%7B',
  'arg=%E2%82',
  'ARG=%221%22',
  'arg%00=%221%22',
  '&&&',
  'arg=%221%22%00',
  'arg=' + enc('"' + 'x'.repeat(3000) + '"'),
];

/** One malformed request of a random kind. */
function malformed(): Malformed {
  switch (int(10)) {
    case 0: {
      const [method, target] = pick([
        ['PUT', '/customer'],
        ['PATCH', '/customer/name'],
      ] as const);
      const body = int(3) === 0 ? validCustomer.slice(0, int(validCustomer.length)) : pick(badJson);
      return { kind: 'bad JSON', bytes: request(method, target, { body }) };
    }
    case 1: {
      const body = pick(wrongTypes);
      // GET and DELETE take a string, which is the right type for them.
      const notString = pick(wrongTypes.filter((t) => !t.startsWith('"')));
      switch (int(4)) {
        case 0:
          return { kind: 'wrong type', bytes: request('PUT', '/customer', { body }) };
        case 1:
          return { kind: 'wrong type', bytes: request('PATCH', '/customer/name', { body }) };
        case 2:
          return { kind: 'wrong type', bytes: request('GET', `/customer?arg=${enc(notString)}`) };
        default:
          return { kind: 'wrong type', bytes: request('DELETE', `/customer?arg=${enc(notString)}`) };
      }
    }
    case 2:
      switch (int(5)) {
        case 0:
          return {
            kind: 'huge body',
            bytes: request('PUT', '/customer', {
              body: JSON.stringify({ id: '2', name: 'x'.repeat(1024 * 1024 + int(1000)) }),
            }),
          };
        case 1:
          return { kind: 'huge body', bytes: request('PUT', '/customer', { body: '[' + '1,'.repeat(600_000) + '1]' }) };
        case 2: {
          // Chunked, so the size is only known while it arrives.
          const chunk = Buffer.alloc(256 * 1024, 0x20);
          const framed = Buffer.concat([
            ...Array.from({ length: 5 }, () =>
              Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]),
            ),
            Buffer.from('0\r\n\r\n'),
          ]);
          return {
            kind: 'huge body',
            bytes: request('PUT', '/customer', {
              body: framed,
              length: null,
              headers: [['Transfer-Encoding', 'chunked']],
            }),
          };
        }
        case 3:
          return {
            kind: 'huge header',
            bytes: request('GET', '/customer?arg=%221%22', { headers: [['X-Big', 'a'.repeat(17_000 + int(10_000))]] }),
          };
        default:
          return {
            kind: 'huge URL',
            bytes: request('GET', `/customer?arg=${enc(JSON.stringify('x'.repeat(17_000 + int(10_000))))}`),
          };
      }
    case 3: {
      const body = pick(pollution);
      switch (int(3)) {
        case 0:
          return { kind: 'prototype pollution', bytes: request('PUT', '/customer', { body }) };
        case 1:
          return { kind: 'prototype pollution', bytes: request('PATCH', '/customer/name', { body }) };
        default:
          return { kind: 'prototype pollution', bytes: request('GET', `/customer?arg=${enc(body)}`) };
      }
    }
    case 4: {
      const method = pick([...oddMethods, 'CONNECT']);
      const target =
        method === 'CONNECT' ? '127.0.0.1:80' : pick(['/customer', '/customer/name', '/healthz', '/nope', '*']);
      return { kind: 'odd method', bytes: request(method, target, int(2) ? { body: validCustomer } : {}) };
    }
    case 5: {
      const path =
        int(4) === 0
          ? '/' +
            Array.from({ length: 1 + int(30) }, () =>
              pick(['%', '..', '/', 'a', '%2f', '%00', ';', '~', '%ff', 'é', '\\', '%u0041']),
            ).join('')
          : pick(oddPaths);
      return {
        kind: 'odd path',
        bytes: request(pick(['GET', 'PUT', 'POST', 'DELETE']), path, { body: int(2) ? validCustomer : undefined }),
      };
    }
    case 6:
      return { kind: 'bad query', bytes: request(pick(['GET', 'DELETE']), `/customer?${pick(badQueries)}`) };
    case 7: {
      const variants: (() => Buffer)[] = [
        () =>
          request('PUT', '/customer', {
            body: validCustomer,
            type: pick([
              'text/plain',
              'application/jsonp',
              'text/json',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/json+x',
              'json',
              '',
              ';',
              'application/*',
              '*/*',
            ]),
          }),
        () => request('PUT', '/customer', { body: validCustomer, type: null }),
        () => request('PUT', '/customer', { body: validCustomer, length: null }),
        () =>
          request(pick(['PUT', 'GET']), pick(['/customer', '/customer?arg=%221%22']), {
            body: int(2) ? validCustomer : undefined,
            auth: pick([
              null,
              '',
              'Bearer',
              'Bearer ',
              'Bearer wrong',
              `Basic ${Buffer.from('a:b').toString('base64')}`,
              // The scheme is case-insensitive and may be followed by several spaces (`bearer  <token>`
              // is taken); the token is case-sensitive, and a tab is no space.
              `bearer ${TOKEN.toUpperCase()}`,
              `Bearer\t${TOKEN}`,
              `Bearer ${TOKEN}x`,
              'Bearer ' + 'x'.repeat(5000),
              `Bearer ${TOKEN.slice(1)}é`,
            ]),
          }),
        // A compressed body: the server decodes no content coding, so it is not JSON to it.
        () => {
          const [coding, compress] = pick([
            ['gzip', gzipSync],
            ['deflate', deflateSync],
            ['br', brotliCompressSync],
          ] as const);
          return request('PUT', '/customer', {
            body: compress(validCustomer),
            headers: [['Content-Encoding', coding]],
          });
        },
        () => request('PUT', '/customer', { body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }),
        () => request('GET', '/customer?arg=%221%22', { headers: [['Expect', 'banana']] }),
        // A method override anywhere but on a POST carrying a GET or DELETE argument, or with a wrong argument.
        () =>
          request(pick(['POST', 'PUT', 'GET']), pick(['/customer', '/customer/name', '/nope', '/healthz']), {
            body: pick([validCustomer, '1', '"x".repeat', '']),
            headers: [['X-HTTP-Method-Override', pick(['GET', 'DELETE', 'PUT', 'POST', 'get', 'GET, GET', '', 'X'])]],
          }),
        () =>
          Buffer.from(
            `PUT /customer HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
          ),
        () =>
          Buffer.from(
            `PUT /customer HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`,
          ),
        () =>
          Buffer.from(
            `PUT /customer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\n1234`,
          ),
        () => Buffer.from(`GET /customer?arg=%221%22 HTTP/1.1\r\nAuthorization: ${AUTH}\r\nConnection: close\r\n\r\n`),
        () =>
          Buffer.from(
            `GET /customer?arg=%221%22 HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\nConnection: close\r\n\r\n`,
          ),
        () =>
          Buffer.from(`GET /customer?arg=%221%22 HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\rb\r\nConnection: close\r\n\r\n`),
        () => Buffer.from(`GET /customer?arg=%221%22 HTTP/9.9\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
        () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        () => Buffer.from(Array.from({ length: 1 + int(200) }, () => int(256))),
      ];
      return { kind: 'bad headers or framing', bytes: pick(variants)() };
    }
    case 8: {
      // A request cut short: the client closes its side before the body is complete.
      const full = request('PUT', '/customer', { body: validCustomer, length: validCustomer.length + 1 + int(100) });
      return { kind: 'truncated', bytes: full, halfClose: true };
    }
    default: {
      // A valid request with one of its JSON body's structural bytes changed.
      const body = Buffer.from(validCustomer);
      const structural = [...body.keys()].filter((i) => '{}:,"'.includes(String.fromCharCode(body[i])));
      const at = pick(structural);
      body[at] = pick([0x00, 0x22, 0x7b, 0x7d, 0x5c, 0x0a, 0xff, 0x2c, 0x3a, 0x5b].filter((b) => b !== body[at]));
      return {
        kind: 'corrupted body',
        bytes: request(pick(['PUT', 'PATCH']), pick(['/customer', '/customer/name']), { body }),
      };
    }
  }
}

interface Outcome {
  /** The final status line's code (after any 100 Continue), or undefined when nothing came. */
  status: number | undefined;
  text: string;
}

function send(port: number, m: Malformed): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((match) => Number(match[1]));
      resolve({ status: statuses.at(-1), text });
    };
    // Answers come at once; this only ends a connection the server left open by mistake.
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', done);
    // The server may answer (413, 431) and close before it has read everything we send.
    socket.on('error', () => {});
    socket.write(m.bytes, () => {
      if (m.halfClose) socket.end();
    });
  });
}

/** Text that tells of the inside of the server. */
const leaks = [
  '    at ',
  'Error:',
  'SyntaxError',
  'TypeError',
  'RangeError',
  'Unexpected token',
  'FST_',
  'node_modules',
  '/work/',
  'file://',
  '.ts:',
  'stack',
  'INFRA_',
];

// ---------------------------------------------------------------- the test

test('a thousand malformed requests: only clean 4xx answers, no handler fails, no pollution, and the server still works', async () => {
  const port = await freePort();
  const logged: string[] = [];
  const platform = new DeployedPlatform({
    env: {
      [wiring.apiPort(api.id)]: String(port),
      [wiring.listenHost]: '127.0.0.1',
      [wiring.apiUrl(api.id)]: `http://127.0.0.1:${port}`,
      [wiring.apiToken(api.id)]: TOKEN,
    },
    persona: api,
    log: {
      info: (m) => logged.push(m),
      error: (m, e) => logged.push(`error: ${m}${e instanceof Error ? ` [${e.message}]` : ''}`),
    },
  });
  api.app.enter('runtime', platform);
  const controller = new AbortController();
  await runAs(api.app, api, () => api.start(controller.signal));
  try {
    const requests = Array.from({ length: COUNT }, malformed);
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    const statuses = new Map<string, number>();
    let next = 0;
    const deadline = Date.now() + GUARD_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length && Date.now() < deadline) {
          const m = requests[next++];
          kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
          const { status, text } = await send(port, m);
          statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
          const sent = JSON.stringify(m.bytes.subarray(0, 300).toString('latin1'));
          if (status === undefined) {
            failures.push(`${m.kind}: no answer to ${sent}`);
          } else if (status < 400 || status > 499) {
            failures.push(`${m.kind}: ${status} to ${sent}: ${text.slice(0, 300)}`);
          } else {
            // A message may quote the request (its path); only text that was not sent is a leak.
            const leak = leaks.find((l) => text.includes(l) && !m.bytes.includes(l));
            if (leak) failures.push(`${m.kind}: "${leak}" in the answer to ${sent}: ${text.slice(0, 300)}`);
          }
        }
      }),
    );
    if (process.env.FAULT_VERBOSE) console.log({ kinds, statuses });
    assert.is(next, COUNT, `only ${next} of ${COUNT} requests were sent within the ${GUARD_SECONDS} s guard`);
    assert.equal(
      failures.slice(0, 10),
      [],
      `${failures.length} of ${COUNT} requests were not answered with a clean 4xx`,
    );
    assert.ok(kinds.size >= 10, `every kind was sent: ${[...kinds.keys()].join(', ')}`);

    // No handler failed (a 500 would have been logged), and none wrote anything.
    assert.equal(
      logged.filter((line) => line.includes('handler failed')),
      [],
    );
    assert.equal([...customers.keys()], ['1']);
    // Nothing reached a prototype.
    for (const proto of [Object.prototype, Array.prototype, Function.prototype]) {
      assert.equal(
        Object.getOwnPropertyNames(proto).filter((name) => name === 'polluted'),
        [],
      );
    }
    assert.is(({} as Record<string, unknown>).polluted, undefined);
    assert.is(Object.getPrototypeOf({}), Object.prototype);

    // The server still works, through the typed client as a deployed persona calls it.
    await runAs(api.app, client, async () => {
      assert.equal(await putCustomer({ id: '2', name: 'Jane Doe' }), { stored: '2' });
      assert.equal(await getCustomer('2'), { id: '2', name: 'Jane Doe' });
      assert.equal(await getCustomer('1'), { id: '1', name: 'John Doe' });
    });
  } finally {
    controller.abort();
    await platform.close();
  }
});

test.run();
