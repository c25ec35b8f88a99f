/**
 * The OpenAPI documents: the build writes one per ApiServer, which validates as OpenAPI 3.1
 * (@readme/openapi-parser, the parser ReadMe's API registry runs); a request made only from
 * what a document says (its paths, methods, parameter, body, security) is answered by the
 * server; a public API serves its own document without a token.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate, compileErrors } from '@readme/openapi-parser';
import { request } from 'undici';
import { Type } from 'typebox';
import { ApiServer, errorCodes, InfraError, rootId, runPersona, type ID } from 'infra-generator';
import { openApiDocument } from 'infra-generator/internal/components/api/openapi';
import { clientSource } from 'infra-generator/internal/targets/clients/clients';
import { serveApi } from './support/serve-api.ts';

const Customer = Type.Object({ id: Type.String(), name: Type.String() }, { additionalProperties: false });

/** An API with a checked POST and GET and an unchecked DELETE, and a public one. */
function shop() {
  const id = rootId('openapi-shop');
  const customers = new ApiServer(id`customers`);
  const saved = new Map<string, unknown>();
  customers.defineEndpoint('/api/customer', async (c) => void saved.set(c.id, c), { method: 'POST', input: Customer });
  customers.defineEndpoint('/api/customer', async (key) => saved.get(key) ?? null, {
    method: 'GET',
    input: Type.String(),
  });
  customers.defineEndpoint('/api/customer/remove', async (key: unknown) => void saved.delete(String(key)), {
    method: 'DELETE',
  });
  const catalog = new ApiServer(id`catalog`, { public: true });
  catalog.defineEndpoint('/items', async () => ['tea', 'cake'], { method: 'GET' });
  return { id, customers, catalog };
}

async function valid(document: object, what: string): Promise<void> {
  const result = await validate(structuredClone(document) as never);
  assert.ok(result.valid, `${what}:\n${result.valid ? '' : compileErrors(result)}`);
}

const openapi = suite('OpenAPI');

openapi('the build writes a valid OpenAPI 3.1 document per ApiServer, its schemas and wire format in it', async () => {
  const { id } = shop();
  const root = mkdtempSync(join(tmpdir(), 'infra-openapi-'));
  try {
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'openapi-fixture', private: true }));
    const paths = { entry: join(root, 'main.ts'), appDir: root, buildDir: join(root, 'build'), projectRoot: root };
    const log = { info() {}, error: (m: string, e?: unknown) => assert.unreachable(`${m} ${String(e)}`) };
    assert.is(await runPersona({ root: id, persona: 'build', paths, args: [], log, setExitCode: false }), 0);
    const read = (api: string) => JSON.parse(readFileSync(join(paths.buildDir, 'openapi', `${api}.json`), 'utf8'));
    const customers = read('openapi-shop.customers');
    const catalog = read('openapi-shop.catalog');
    await valid(customers, 'customers');
    await valid(catalog, 'catalog');

    assert.is(customers.openapi, '3.1.0');
    assert.match(customers.info.version, /^[0-9a-f]{16}$/);
    assert.equal(customers.security, [{ bearer: [] }]);
    assert.equal(customers.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
    const post = customers.paths['/api/customer'].post;
    assert.equal(post.requestBody.content['application/json'].schema, JSON.parse(JSON.stringify(Customer)));
    assert.is(post.requestBody.required, true);
    const get = customers.paths['/api/customer'].get;
    assert.equal(get.parameters, [
      { name: 'arg', in: 'query', required: true, content: { 'application/json': { schema: { type: 'string' } } } },
    ]);
    assert.match(get.description, 'x-http-method-override: GET');
    // No schema: any JSON, and the document says the handler checks it.
    const remove = customers.paths['/api/customer/remove'].delete;
    assert.equal(remove.parameters[0].content['application/json'].schema, {});
    assert.is(remove.parameters[0].required, false);
    assert.match(remove.description, 'declares no input schema');
    for (const status of ['204', '400', '401', '404', '413', '500', '503', '504'])
      assert.ok(post.responses[status], `POST answers ${status}`);
    assert.equal(customers.paths['/healthz'].get.security, []);

    // A public API: no security, its port on the host, and its own document's route.
    assert.is(catalog.security, undefined);
    assert.is(catalog.paths['/items'].get.responses['401'], undefined);
    assert.ok(catalog.servers.some((s: { url: string }) => s.url.startsWith('http://localhost:')));
    assert.ok(catalog.paths['/openapi.json'].get);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

openapi('a request made from what the document says is answered by the server', async () => {
  const { customers } = shop();
  const document = openApiDocument(customers) as any;
  const served = await serveApi(customers, 'the-token');
  try {
    const call = async (route: string, method: string, arg: unknown) => {
      const operation = document.paths[route][method];
      const headers: Record<string, string> = { authorization: 'Bearer the-token' };
      let url = served.url + route;
      let body: string | undefined;
      if (operation.parameters) {
        const [parameter] = operation.parameters;
        assert.is(parameter.in, 'query');
        url += `?${new URLSearchParams({ [parameter.name]: JSON.stringify(arg) })}`;
      } else {
        headers['content-type'] = Object.keys(operation.requestBody.content)[0];
        body = JSON.stringify(arg);
      }
      const response = await request(url, { method: method.toUpperCase() as 'GET', headers, body });
      const text = await response.body.text();
      assert.ok(operation.responses[String(response.statusCode)], `${method} ${route}: ${response.statusCode} ${text}`);
      return { status: response.statusCode, text };
    };
    assert.is((await call('/api/customer', 'post', { id: '7', name: 'Ada' })).status, 204);
    assert.equal(await call('/api/customer', 'get', '7'), { status: 200, text: '{"id":"7","name":"Ada"}' });
    assert.is((await call('/api/customer', 'post', { id: 7 })).status, 400);
    assert.is((await call('/api/customer/remove', 'delete', '7')).status, 204);
  } finally {
    served.controller.abort();
    await served.platform.close();
  }
});

openapi('a public API serves its document at GET /openapi.json without a token; a protected one does not', async () => {
  const { catalog } = shop();
  const served = await serveApi(catalog, 'unused', { INFRA_TREE_FINGERPRINT: '0123456789abcdef' });
  try {
    const response = await request(`${served.url}/openapi.json`);
    assert.is(response.statusCode, 200);
    const document = await response.body.json();
    assert.equal(document, openApiDocument(catalog, { version: '0123456789abcdef' }));
    await valid(document as object, 'served');
  } finally {
    served.controller.abort();
    await served.platform.close();
  }
  // Another app: an app's personas run in separate processes.
  const protectedApi = await serveApi(shop().customers, 'the-token');
  try {
    const response = await request(`${protectedApi.url}/openapi.json`, {
      headers: { authorization: 'Bearer the-token' },
    });
    await response.body.text();
    assert.is(response.statusCode, 404);
  } finally {
    protectedApi.controller.abort();
    await protectedApi.platform.close();
  }
});

openapi(
  'the generated client calls the API over the wire format, typed from the schemas, with no dependency',
  async () => {
    const { customers } = shop();
    const { compile } = await import('json-schema-to-typescript');
    const source = await clientSource(compile, customers, 'test');
    assert.not.match(source, /^import /m);
    assert.match(source, /export interface PostApiCustomerInput \{\s+id: string;\s+name: string;\s+\}/);
    assert.match(source, 'export type GetApiCustomerInput = string;');
    assert.match(source, 'export type DeleteApiCustomerRemoveInput = unknown;');
    const dir = mkdtempSync(join(tmpdir(), 'infra-client-'));
    const served = await serveApi(customers, 'client-token');
    try {
      writeFileSync(join(dir, 'client.ts'), source);
      const { createClient, ApiError } = await import(join(dir, 'client.ts'));
      const api = createClient({ baseUrl: `${served.url}/`, token: 'client-token' });
      assert.is(await api.postApiCustomer({ id: '9', name: 'Kim' }), undefined);
      assert.equal(await api.getApiCustomer('9'), { id: '9', name: 'Kim' });
      // Too long for a URL: sent as a POST standing for the GET.
      assert.is(await api.getApiCustomer('x'.repeat(5000)), null);
      const refused = await api.postApiCustomer({ id: 9, name: 'Kim' }).catch((err: unknown) => err);
      assert.instance(refused, ApiError);
      assert.is(refused.status, 400);
      assert.match(
        refused.message,
        'Invalid argument to openapi-shop.customers (POST /api/customer): /id must be string',
      );
      const wrongToken = createClient({ baseUrl: served.url, token: 'nope' });
      assert.is((await wrongToken.getApiCustomer('9').catch((err: unknown) => err)).status, 401);
    } finally {
      served.controller.abort();
      await served.platform.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

openapi("a public API's endpoint may not take /openapi.json; a protected API's may", () => {
  const id: ID = rootId('openapi-reserved');
  const open = new ApiServer(id`open`, { public: true });
  try {
    open.defineEndpoint('/openapi.json', async () => 1, { method: 'GET' });
    assert.unreachable('defined');
  } catch (err) {
    assert.ok(err instanceof InfraError && err.code === errorCodes.INFRA_RESERVED_ROUTE, String(err));
  }
  new ApiServer(id`closed`).defineEndpoint('/openapi.json', async () => 1, { method: 'GET' });
});

openapi.run();
