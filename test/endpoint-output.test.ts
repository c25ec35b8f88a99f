/**
 * Endpoint output schemas (`defineEndpoint(route, handler, { output: Type… })`): the client's
 * result is typed from it, the answer is written from it (fast-json-stringify), and a handler
 * whose value does not match answers 500, logged with the mismatch. The same app runs in one
 * process and over HTTP, and every case must answer the same in both.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { Type, type Static } from 'typebox';
import { rootId, ApiServer, HttpError, InfraError, startInProcess } from 'infra-generator';
import { openApiDocument } from 'infra-generator/internal/components/api/openapi';
import { serveApi } from './support/serve-api.ts';
import { compileErrors, validate } from '@readme/openapi-parser';

const Customer = Type.Object({ id: Type.String(), name: Type.String(), vip: Type.Optional(Type.Boolean()) });
type Customer = Static<typeof Customer>;

function createApp(root: string) {
  const id = rootId(root);
  const api = new ApiServer(id`api`);
  /** What the next call's handler returns, whatever its type says: the cases set it. */
  const next: { value: unknown } = { value: undefined };
  const clients = {
    // Checked input and output: the result's type is the output schema's.
    get: api.defineEndpoint('/customer', async (_key) => next.value as Customer, {
      method: 'GET',
      input: Type.String(),
      output: Customer,
    }),
    // No input schema: the handler's parameter is its own.
    list: api.defineEndpoint('/customers', async (_prefix: string) => next.value as Customer[], {
      method: 'GET',
      output: Type.Array(Customer),
    }),
    // May be undefined: a 204, else a Customer.
    maybe: api.defineEndpoint('/maybe', async (_key: string) => next.value as Customer | undefined, {
      method: 'GET',
      output: Type.Union([Customer, Type.Undefined()]),
    }),
  };
  return { id, api, clients, next };
}

// Types: the client's result is Static<output>; a handler returning another type does not compile.
function typesOnly(api: ApiServer) {
  const get = api.defineEndpoint('/t', async (key) => ({ id: key, name: 'n' }), {
    input: Type.String(),
    output: Customer,
  });
  const result: Promise<Customer> = get('1');
  // @ts-expect-error the output schema says id is a string
  api.defineEndpoint('/u', async (key) => ({ id: 1, name: key }), { input: Type.String(), output: Customer });
  // @ts-expect-error the output schema says an array
  api.defineEndpoint('/v', async () => ({ id: '1', name: 'n' }), { output: Type.Array(Customer) });
  return result;
}
void typesOnly;

type Clients = ReturnType<typeof createApp>['clients'];
type Answer = { value?: unknown; status?: number; error?: string };

/** Each case's outcome, as the caller sees it. */
async function runCases(app: ReturnType<typeof createApp>, lines: string[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  const call = async (fn: () => Promise<unknown>) => {
    try {
      answers.push({ value: await fn() });
    } catch (err) {
      assert.instance(err, HttpError);
      answers.push({ status: (err as HttpError).status, error: (err as HttpError).message });
    }
  };
  const { clients, next }: { clients: Clients; next: { value: unknown } } = app;
  next.value = { id: '1', name: 'Ada', vip: true };
  await call(() => clients.get('1'));
  next.value = { id: '1', name: 'Ada' };
  await call(() => clients.get('1'));
  // Wrong: the handler's value is refused, the caller gets 500 with no detail, the log has it.
  next.value = { id: 1, name: 'Ada' };
  await call(() => clients.get('1'));
  next.value = [{ id: '1', name: 'Ada' }, { id: '2' }];
  await call(() => clients.list('x'));
  next.value = undefined;
  await call(() => clients.get('1'));
  // A property the schema does not name is not sent (fast-json-stringify writes the schema's).
  next.value = [{ id: '3', name: 'Bo', secret: 'not for callers' }];
  await call(() => clients.list('x'));
  next.value = undefined;
  await call(() => clients.maybe('x'));
  next.value = { id: '4', name: 'Cy' };
  await call(() => clients.maybe('x'));
  assert.ok(
    lines.some((l) =>
      l.includes(
        `ApiServer ${app.id.value}.api GET /customer: the value it returned does not match its output schema: /id must be string`,
      ),
    ),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) =>
      l.includes('GET /customers: the value it returned does not match its output schema: /1/name is required'),
    ),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) =>
      l.includes('GET /customer: the value it returned does not match its output schema: the value must be object'),
    ),
    lines.join('\n'),
  );
  return answers;
}

const expected = (root: string): Answer[] => {
  const internal = (route: string) => ({
    status: 500,
    error: `Internal error in ${root}.api (GET ${route}); the server's log has the details`,
  });
  return [
    { value: { id: '1', name: 'Ada', vip: true } },
    { value: { id: '1', name: 'Ada' } },
    internal('/customer'),
    internal('/customers'),
    internal('/customer'),
    { value: [{ id: '3', name: 'Bo' }] },
    { value: undefined },
    { value: { id: '4', name: 'Cy' } },
  ];
};

const both = suite('output schema, in one process and over HTTP');

both('a matching value is the answer; one that does not match is a 500, logged with the mismatch', async () => {
  const local = createApp('output-local');
  const lines: string[] = [];
  const run = startInProcess(local.id, {
    log: { info: (m: string) => lines.push(m), error: (m: string) => lines.push(m) },
  });
  try {
    await run.start(local.api);
    assert.equal(await runCases(local, lines), expected('output-local'));
  } finally {
    await run.stop();
  }

  const deployed = createApp('output-http');
  const served = await serveApi(deployed.api, 'output-token');
  try {
    assert.equal(await runCases(deployed, served.lines), expected('output-http'));
  } finally {
    served.controller.abort();
    await served.platform.close();
  }
});

both('the OpenAPI document gives the output schema as the answer, and validates', async () => {
  const { api } = createApp('output-openapi');
  const document = openApiDocument(api) as any;
  const result = await validate(structuredClone(document));
  assert.ok(result.valid, result.valid ? '' : compileErrors(result));
  assert.equal(
    document.paths['/customer'].get.responses['200'].content['application/json'].schema,
    JSON.parse(JSON.stringify(Customer)),
  );
  // Undefined is the 204: the JSON answer is the Customer alone.
  assert.equal(
    document.paths['/maybe'].get.responses['200'].content['application/json'].schema,
    JSON.parse(JSON.stringify(Customer)),
  );
});

test('an output that is not a schema is refused when the endpoint is defined, naming it', () => {
  const api = new ApiServer(rootId('output-bad')`api`);
  try {
    api.defineEndpoint('/x', async () => 1, { output: 'number' as never });
    assert.unreachable('defined');
  } catch (err) {
    assert.instance(err, InfraError);
    assert.is((err as InfraError).code, 'INFRA_INVALID_OUTPUT_SCHEMA');
    assert.match((err as InfraError).message, 'ApiServer output-bad.api: the output schema of POST /x cannot be used');
  }
});

both.run();
test.run();
