/**
 * <build>/clients/<api>.ts: a typed TypeScript client per ApiServer, for a program that is not a
 * persona of the app (a front end, a script, a test): plain `fetch`, no import of
 * infra-generator or any other package, the argument and result types made from the endpoints'
 * input and output schemas (json-schema-to-typescript), the wire format of http-wire.ts. A
 * caller gives it the API's URL and token:
 *
 *   import { createClient } from './build/clients/my-app.customer-server.api.ts';
 *   const api = createClient({ baseUrl: 'http://127.0.0.1:29522', token });
 *   await api.getApiCustomer('1');
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { JSONSchema } from 'json-schema-to-typescript';
import type { ApiServer } from '../../components/api/server.ts';
import { operationId } from '../../components/api/openapi.ts';
import { jsonPart } from '../../components/api/output-schema.ts';
import { ARG_PARAM, MAX_QUERY_LENGTH, METHOD_OVERRIDE_HEADER } from '../../components/api/http-wire.ts';
import type { Target } from '../target.ts';

const clientsFolder = (buildDir: string) => join(buildDir, 'clients');

/** The client's fixed part (runtime/templates/, beside the Dockerfile's: see dockerfile.ts). */
const clientTemplatePath = new URL('../../../templates/client.ts.hbs', import.meta.url);
let template: Handlebars.TemplateDelegate | undefined;

type Compile = typeof import('json-schema-to-typescript').compile;

/** `PostApiCustomer` from `postApiCustomer`. */
const typeName = (name: string) => name[0].toUpperCase() + name.slice(1);

/**
 * The TypeScript type named `name` (an exported declaration) of the JSON Schema `schema`, or
 * `unknown` for none; `| undefined` when the value may also be undefined (`orUndefined`).
 */
async function declaration(
  compile: Compile,
  schema: object | undefined,
  name: string,
  orUndefined = false,
): Promise<string> {
  if (schema === undefined) return `export type ${name} = ${orUndefined ? 'undefined' : 'unknown'};\n`;
  if (orUndefined)
    return `${await declaration(compile, schema, `${name}Value`)}export type ${name} = ${name}Value | undefined;\n`;
  const text = await compile(JSON.parse(JSON.stringify(schema)) as JSONSchema, name, {
    bannerComment: '',
    format: true,
    // An object schema that does not close itself still types only what it names.
    additionalProperties: false,
    declareExternallyReferenced: true,
  });
  // compile() names the type after the schema's `title` when it has one: the endpoint's name wins.
  const named = /^export (?:interface|type) (\w+)/m.exec(text)![1];
  return named === name ? text : `${text}export type ${name} = ${named};\n`;
}

/** The client's source for `server`. */
export async function clientSource(compile: Compile, server: ApiServer, version: string): Promise<string> {
  const types: string[] = [];
  const methods: string[] = [];
  for (const endpoint of server.endpoints) {
    const name = operationId(endpoint);
    const input = `${typeName(name)}Input`;
    const output = `${typeName(name)}Output`;
    types.push(await declaration(compile, endpoint.input?.schema, input));
    const answer = endpoint.output ? jsonPart(endpoint.output.schema) : undefined;
    types.push(await declaration(compile, answer?.json, output, answer?.mayBeUndefined));
    const arg = endpoint.input ? `arg: ${input}` : `arg?: ${input}`;
    methods.push(
      `    /** ${endpoint.method} ${endpoint.route}${endpoint.input ? '' : ' (no input schema: any JSON value)'} */\n` +
        `    ${name}: (${arg}): Promise<${output}> => call(${JSON.stringify(endpoint.method)}, ${JSON.stringify(endpoint.route)}, arg) as Promise<${output}>,`,
    );
  }
  template ??= Handlebars.compile(readFileSync(clientTemplatePath, 'utf8'), { noEscape: true, strict: true });
  return template({
    server: server.id.value,
    version,
    types: types.join('\n'),
    tokenNote: server.public ? 'a public API takes none' : "<API_ID>__TOKEN in the build's env files",
    argParam: ARG_PARAM,
    maxQueryLength: MAX_QUERY_LENGTH,
    overrideHeader: METHOD_OVERRIDE_HEADER,
    methods: methods.join('\n'),
  });
}

export const target: Target = {
  name: 'clients',
  async files(plan, { paths }) {
    // Loaded only for schemas: a build of APIs without any writes `unknown` and needs none of it.
    let loading: Promise<Compile> | undefined;
    const compile: Compile = async (...args) =>
      (await (loading ??= import('json-schema-to-typescript').then((m) => m.compile)))(...args);
    return Promise.all(
      plan.apis.map(async (api) => ({
        path: join(clientsFolder(paths.buildDir), `${api.server.id.value}.ts`),
        text: await clientSource(compile, api.server, plan.fingerprint),
        mode: 0o644,
      })),
    );
  },
  ownFolder: (paths) => ({ path: clientsFolder(paths.buildDir), suffix: '.ts' }),
};
