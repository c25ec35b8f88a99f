/**
 * Endpoint input schemas (`defineEndpoint(route, handler, { input: Type… })`): the argument is
 * checked before the handler runs, and a wrong one gets 400 naming the endpoint and the failing
 * path. The same app is run twice, in one process and over HTTP (a real Fastify server on
 * 127.0.0.1, called through the typed client functions on the DeployedPlatform), and every case
 * must answer the same in both, message for message. Raw requests cover what a client function
 * never sends. Without a schema nothing changes: a wrong type reaches the handler.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { Type } from 'typebox';
import { rootId, ApiServer, HttpError, InfraError, startInProcess, type ID } from 'infra-generator';
import { rawRequest, serveApi, type ServedApi } from './support/serve-api.ts';

const TOKEN = 'schema-token-not-secret';

const Address = Type.Object({ city: Type.String(), zip: Type.String({ pattern: '^[0-9]{5}$' }) });
/** Open objects (the JSON Schema default): extra properties pass and reach the handler. */
const Customer = Type.Object({
  id: Type.String(),
  name: Type.String({ minLength: 1 }),
  address: Type.Optional(Address),
  tags: Type.Optional(Type.Array(Type.String())),
});
/** Closed objects: `additionalProperties: false` refuses extra properties, at any depth. */
const StrictCustomer = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    address: Type.Optional(Type.Object({ city: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const Shape = Type.Union([
  Type.Object({ kind: Type.Literal('circle'), r: Type.Number() }),
  Type.Object({ kind: Type.Literal('square'), side: Type.Number() }),
]);

/** The app under test; `root` tells the two runs apart. Each handler records what it was given. */
function createApp(root: string) {
  const id = rootId(root);
  const api = new ApiServer(id`api`);
  const seen: unknown[] = [];
  const clients = {
    postCustomer: api.defineEndpoint(
      '/customer',
      (c) => {
        seen.push(c);
        // The parameter's type comes from the schema.
        const name: string = c.name;
        const zip: string | undefined = c.address?.zip;
        return { id: c.id, name, zip: zip ?? null };
      },
      { method: 'POST', input: Customer },
    ),
    putStrict: api.defineEndpoint(
      '/customer',
      (c) => {
        seen.push(c);
        return { stored: c.id };
      },
      { method: 'PUT', input: StrictCustomer },
    ),
    getCustomer: api.defineEndpoint(
      '/customer',
      (customerId) => {
        seen.push(customerId);
        return { id: customerId.toUpperCase() };
      },
      { method: 'GET', input: Type.String({ minLength: 1 }) },
    ),
    deleteOrder: api.defineEndpoint(
      '/order',
      (o) => {
        seen.push(o);
        return o.id * 2;
      },
      { method: 'DELETE', input: Type.Object({ id: Type.Integer({ minimum: 1 }) }) },
    ),
    patchMode: api.defineEndpoint(
      '/mode',
      (mode) => {
        seen.push(mode);
        return mode;
      },
      { method: 'PATCH', input: Type.Union([Type.Literal('fast'), Type.Literal('safe')]) },
    ),
    area: api.defineEndpoint(
      '/area',
      (s) => {
        seen.push(s);
        return s.kind === 'circle' ? Math.round(Math.PI * s.r ** 2) : s.side ** 2;
      },
      { input: Shape },
    ),
    maybe: api.defineEndpoint(
      '/maybe',
      (v) => {
        seen.push(v);
        return v;
      },
      { input: Type.Union([Type.String(), Type.Null()]) },
    ),
    // No schema: the handler's type is not checked at run time, as before.
    unchecked: api.defineEndpoint(
      '/unchecked',
      (customerId: string) => {
        seen.push(customerId);
        return typeof customerId;
      },
      { method: 'GET' },
    ),
  };
  return { id, api, seen, clients };
}

type Clients = ReturnType<typeof createApp>['clients'];

// Typing: the client takes what the schema describes (checked by `npm run typecheck`).
function typing(c: Clients) {
  // @ts-expect-error the schema says id is a string
  void c.postCustomer({ id: 1, name: 'x' });
  // @ts-expect-error name is required
  void c.postCustomer({ id: '1' });
  // @ts-expect-error the union's literals only
  void c.patchMode('slow');
  // @ts-expect-error a number for GET
  void c.getCustomer(7);
  const area: Promise<number> = c.area({ kind: 'square', side: 2 });
  return area;
}
function typedApart(api: ApiServer) {
  // @ts-expect-error a handler whose own parameter type disagrees with its schema
  api.defineEndpoint('/apart', (c: { id: number }) => c.id, { input: Type.Object({ id: Type.String() }) });
  // A handler typed like its schema is fine.
  api.defineEndpoint('/together', (c: { id: string }) => c.id, { input: Type.Object({ id: Type.String() }) });
}
void typedApart;
void typing;

interface Case {
  name: string;
  client: keyof Clients;
  arg: unknown;
  /** The value answered, or the 400 message after `Invalid argument to <root>.api (<METHOD> <route>): `. */
  ok?: unknown;
  problem?: string;
}

const cases: Case[] = [
  {
    name: 'a good body',
    client: 'postCustomer',
    arg: { id: '1', name: 'Ann', address: { city: 'Oslo', zip: '01234' }, tags: ['a'] },
    ok: { id: '1', name: 'Ann', zip: '01234' },
  },
  { name: 'a wrong type', client: 'postCustomer', arg: { id: 1, name: 'Ann' }, problem: '/id must be string' },
  { name: 'a missing property', client: 'postCustomer', arg: { id: '1' }, problem: '/name is required' },
  { name: 'two missing properties', client: 'postCustomer', arg: {}, problem: '/id and /name are required' },
  {
    name: 'a constraint',
    client: 'postCustomer',
    arg: { id: '1', name: '' },
    problem: '/name must not have fewer than 1 characters',
  },
  {
    name: 'a nested path',
    client: 'postCustomer',
    arg: { id: '1', name: 'A', address: { city: 'Oslo', zip: 'abc' } },
    problem: '/address/zip must match pattern "^[0-9]{5}$"',
  },
  {
    name: 'a nested missing property',
    client: 'postCustomer',
    arg: { id: '1', name: 'A', address: { zip: '01234' } },
    problem: '/address/city is required',
  },
  {
    name: 'an array item',
    client: 'postCustomer',
    arg: { id: '1', name: 'A', tags: ['a', 2] },
    problem: '/tags/1 must be string',
  },
  { name: 'the wrong kind of argument', client: 'postCustomer', arg: '1', problem: 'the argument must be object' },
  { name: 'no argument at all', client: 'postCustomer', arg: undefined, problem: 'the argument must be object' },
  { name: 'null', client: 'postCustomer', arg: null, problem: 'the argument must be object' },
  {
    name: 'extra properties pass an open object',
    client: 'postCustomer',
    arg: { id: '2', name: 'B', extra: true },
    ok: { id: '2', name: 'B', zip: null },
  },
  { name: 'a closed object', client: 'putStrict', arg: { id: '1', name: 'A' }, ok: { stored: '1' } },
  {
    name: 'an extra property on a closed object',
    client: 'putStrict',
    arg: { id: '1', name: 'A', admin: true },
    problem: '/admin is not allowed',
  },
  {
    name: 'an extra nested property',
    client: 'putStrict',
    arg: { id: '1', name: 'A', address: { city: 'Oslo', zip: '1' } },
    problem: '/address/zip is not allowed',
  },
  {
    name: 'a key that needs escaping',
    client: 'putStrict',
    arg: { id: '1', name: 'A', 'a/b~c': 1 },
    problem: '/a~1b~0c is not allowed',
  },
  { name: 'a good query argument', client: 'getCustomer', arg: 'abc', ok: { id: 'ABC' } },
  { name: 'a wrong query argument', client: 'getCustomer', arg: 7, problem: 'the argument must be string' },
  {
    name: 'a short query argument',
    client: 'getCustomer',
    arg: '',
    problem: 'the argument must not have fewer than 1 characters',
  },
  { name: 'a good DELETE', client: 'deleteOrder', arg: { id: 21 }, ok: 42 },
  { name: 'a fraction for an integer', client: 'deleteOrder', arg: { id: 1.5 }, problem: '/id must be integer' },
  { name: 'a minimum', client: 'deleteOrder', arg: { id: 0 }, problem: '/id must be >= 1' },
  { name: 'a number as text is not coerced', client: 'deleteOrder', arg: { id: '3' }, problem: '/id must be integer' },
  { name: 'a literal union', client: 'patchMode', arg: 'safe', ok: 'safe' },
  {
    name: 'a value outside a literal union',
    client: 'patchMode',
    arg: 'slow',
    problem: 'the argument must be one of "fast" or "safe"',
  },
  { name: 'a tagged union', client: 'area', arg: { kind: 'square', side: 3 }, ok: 9 },
  {
    name: 'a tagged union, its tag matched',
    client: 'area',
    arg: { kind: 'circle', r: 'x' },
    problem: '/r must be number',
  },
  {
    name: 'a tagged union, no tag matched',
    client: 'area',
    arg: { kind: 'triangle' },
    problem: '/kind must be one of "circle" or "square"',
  },
  { name: 'a nullable value', client: 'maybe', arg: null, ok: null },
  {
    name: 'a nullable value of the wrong type',
    client: 'maybe',
    arg: 5,
    problem: 'the argument must be string or null',
  },
  { name: 'no schema: a wrong type reaches the handler', client: 'unchecked', arg: 5, ok: 'number' },
];

/** Runs every case; resolves to what each answered, as text to compare across the modes. */
async function runCases(root: string, clients: Clients, seen: unknown[]): Promise<string[]> {
  const answers: string[] = [];
  for (const c of cases) {
    const before = seen.length;
    const client = clients[c.client] as (arg: unknown) => Promise<unknown>;
    const outcome: { value: unknown } | { err: unknown } = await client(c.arg).then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    if (c.problem !== undefined) {
      assert.ok('err' in outcome, `${c.name}: expected a 400, got ${JSON.stringify(outcome)}`);
      const { err } = outcome;
      assert.instance(err, HttpError, `${c.name}: ${String(err)}`);
      assert.is((err as HttpError).status, 400, c.name);
      // A client function's name is its endpoint, e.g. `POST /customer`.
      assert.is((err as HttpError).message, `Invalid argument to ${root}.api (${client.name}): ${c.problem}`, c.name);
      assert.is(seen.length, before, `${c.name}: the handler must not run`);
      answers.push(`${c.name}: 400 ${(err as HttpError).message.replace(root, '<root>')}`);
    } else {
      assert.ok('value' in outcome, `${c.name}: ${'err' in outcome ? String(outcome.err) : ''}`);
      assert.equal(outcome.value, c.ok, c.name);
      assert.is(seen.length, before + 1, `${c.name}: the handler runs once`);
      answers.push(`${c.name}: ${JSON.stringify(outcome.value)}`);
    }
  }
  return answers;
}

// ---------------------------------------------------------------- in one process

const inProcessAnswers: string[] = [];
const httpAnswers: string[] = [];

const local = suite('input schema, in one process');
const inProcess = createApp('schema-in-process');
let localRun: ReturnType<typeof startInProcess>;

local.before(async () => {
  localRun = startInProcess(inProcess.id);
  await localRun.start(inProcess.api);
});
local.after(async () => {
  await localRun.stop();
});

local('good arguments reach the handler; bad ones throw HttpError(400) naming the endpoint and path', async () => {
  inProcessAnswers.push(...(await runCases('schema-in-process', inProcess.clients, inProcess.seen)));
});

local('extra properties on an open object reach the handler as sent', async () => {
  inProcess.seen.length = 0;
  await inProcess.clients.postCustomer({ id: '3', name: 'C', note: 'kept' } as never);
  assert.equal(inProcess.seen, [{ id: '3', name: 'C', note: 'kept' }]);
});

local.run();

// ---------------------------------------------------------------- over HTTP

const http = suite('input schema, over HTTP');
const deployed = createApp('schema-http');
let server: ServedApi;

http.before(async () => {
  server = await serveApi(deployed.api, TOKEN);
});
http.after(async () => {
  server.controller.abort();
  await server.platform.close();
});

http('good arguments reach the handler; bad ones get 400 naming the endpoint and path', async () => {
  httpAnswers.push(...(await runCases('schema-http', deployed.clients, deployed.seen)));
});

/** A raw request, with the token unless `auth` is false. */
const raw = (path: string, method: string, options: { body?: string; auth?: boolean } = {}) =>
  rawRequest(`${server.url}${path}`, method, {
    body: options.body,
    type: options.body === undefined ? undefined : 'application/json',
    token: options.auth === false ? undefined : TOKEN,
  });

http('the 400 body is { error, status } with no internal text', async () => {
  const before = deployed.seen.length;
  const answer = await raw('/customer', 'POST', { body: '{"id":"1","name":"A","address":{"city":"Oslo","zip":5}}' });
  assert.is(answer.status, 400);
  assert.equal(answer.json, {
    error: 'Invalid argument to schema-http.api (POST /customer): /address/zip must be string',
    status: 400,
  });
  for (const leak of ['    at ', 'Error', 'FST_', 'node_modules', 'schemaPath', 'keyword', 'typebox']) {
    assert.not.ok(answer.text.includes(leak), `${leak} leaked: ${answer.text}`);
  }
  const query = await raw(`/customer?arg=${encodeURIComponent('{"id":1}')}`, 'GET');
  assert.equal(query.json, {
    error: 'Invalid argument to schema-http.api (GET /customer): the argument must be string',
    status: 400,
  });
  const empty = await raw('/customer', 'POST', { body: '' });
  assert.equal(empty.json, {
    error: 'Invalid argument to schema-http.api (POST /customer): the argument must be object',
    status: 400,
  });
  assert.is(deployed.seen.length, before, 'no handler ran');
  assert.equal(
    server.lines.filter((l) => !l.includes('listening on')),
    [],
    'a refused argument is not a server fault: nothing logged',
  );
});

http('a long property name is cut short in the message', async () => {
  const key = 'k'.repeat(5000);
  const answer = await raw('/customer', 'PUT', { body: JSON.stringify({ id: '1', name: 'A', [key]: 1 }) });
  assert.is(answer.status, 400);
  const error = answer.json!.error as string;
  assert.ok(error.length < 400, error);
  assert.ok(error.startsWith(`Invalid argument to schema-http.api (PUT /customer): /${'k'.repeat(150)}`), error);
});

http('the token is checked before the argument: no schema detail without it', async () => {
  const answer = await raw('/customer', 'POST', { body: '{"id":1}', auth: false });
  assert.is(answer.status, 401);
  assert.not.ok(answer.text.includes('/id'), answer.text);
});

http('malformed JSON is still refused as before, ahead of the schema', async () => {
  const answer = await raw('/customer', 'POST', { body: '{"id":' });
  assert.is(answer.status, 400);
  assert.ok((answer.json!.error as string).includes('the request body is not valid JSON'), answer.text);
});

http.run();

// ---------------------------------------------------------------- both modes alike, and misuse

test('both modes answer every case alike', () => {
  assert.is(inProcessAnswers.length, cases.length);
  assert.equal(httpAnswers, inProcessAnswers);
});

test('an input that is not a schema is refused at startup, naming the endpoint', () => {
  const api = new ApiServer(rootId('schema-misuse')`api`);
  for (const input of [42, 'string', null, [Type.String()]]) {
    const err = (() => {
      try {
        api.defineEndpoint('/x', (x: unknown) => x, { input: input as never });
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, InfraError, String(input));
    assert.is((err as InfraError).code, 'INFRA_INVALID_INPUT_SCHEMA');
    assert.match(
      (err as InfraError).message,
      'ApiServer schema-misuse.api: the input schema of POST /x cannot be used',
    );
  }
});

test('a schema the checker cannot compile stops the server at start, naming the endpoint', async () => {
  const id: ID = rootId('schema-bad-compile');
  const api = new ApiServer(id`api`);
  // A getter that throws stands for any schema TypeBox's compiler refuses.
  const broken = Object.defineProperty({}, 'type', {
    enumerable: true,
    get: () => {
      throw new Error('no type here');
    },
  });
  api.defineEndpoint('/x', (x: unknown) => x, { input: broken as never });
  const run = startInProcess(id);
  try {
    const err = await run.start(api).catch((e: unknown) => e);
    assert.instance(err, InfraError);
    assert.is((err as InfraError).code, 'INFRA_INVALID_INPUT_SCHEMA');
    assert.match(
      (err as InfraError).message,
      'ApiServer schema-bad-compile.api: the input schema of POST /x cannot be used (no type here)',
    );
  } finally {
    await run.stop();
  }
});

test.run();
