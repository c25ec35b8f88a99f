/**
 * An ApiServer as an OpenAPI 3.1 document: what a caller outside the app (a front end, a script,
 * a service in another language, a tool that reads OpenAPI) needs to call it over HTTP, written
 * from the same constants the server and the client use (http-wire.ts, endpoint.ts), so the
 * document cannot say one thing while the server does another.
 *
 * The build writes one per ApiServer (targets/openapi/); a public API also serves its own at
 * OPENAPI_ROUTE, which the document then lists. An endpoint's `input` (a TypeBox type) is JSON
 * Schema already, which OpenAPI 3.1 takes as it is; an endpoint without one takes any JSON
 * value, and says so; an answer is its `output` schema, or any JSON value.
 */
import type { ApiServer } from './server.ts';
import {
  argumentInQuery,
  HEALTH_ROUTE,
  MAX_ANSWER_BYTES,
  MAX_ARGUMENT_BYTES,
  OPENAPI_ROUTE,
  type Endpoint,
} from './endpoint.ts';
import { ARG_PARAM, METHOD_OVERRIDE_HEADER } from './http-wire.ts';
import { jsonPart } from './output-schema.ts';

const JSON_MEDIA = 'application/json';
const ERROR_SCHEMA_REF = '#/components/schemas/Error';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type OpenApiDocument = { [key: string]: Json };

/** The refusals every endpoint may answer, with what they mean there. */
const commonErrors: Record<string, string> = {
  '400': 'The argument is not valid JSON, does not match the input schema, or is a key the store refuses.',
  '404': 'No endpoint for this method and route, or the handler threw HttpError(404).',
  '413': `The argument is larger than ${MAX_ARGUMENT_BYTES} bytes as JSON text.`,
  '415': `A body that is not ${JSON_MEDIA}.`,
  '500': 'The handler failed; its message is logged, not sent.',
  '503': 'The server is shutting down, or a database it needs is unreachable.',
  '504': "The handler did not answer within the endpoint's deadline.",
};

function errorResponse(description: string): Json {
  return { description, content: { [JSON_MEDIA]: { schema: { $ref: ERROR_SCHEMA_REF } } } };
}

/**
 * An endpoint's name in the document and in the generated client (`getApiCustomer` for
 * `GET /api/customer`): unique per server, since a server has one endpoint per method and route
 * and routes are made of letters, digits and a few punctuation marks.
 */
export function operationId(endpoint: Endpoint): string {
  const words = endpoint.route.replace(/[^A-Za-z0-9]+(.)?/g, (_, c?: string) => (c ?? '').toUpperCase());
  return `${endpoint.method.toLowerCase()}${words}`;
}

/** The operation of one endpoint. */
function operation(endpoint: Endpoint, secured: boolean): Json {
  const schema: Json = endpoint.input ? (JSON.parse(JSON.stringify(endpoint.input.schema)) as Json) : {};
  const unchecked = endpoint.input
    ? ''
    : ' The endpoint declares no input schema: any JSON value is passed to its handler, which checks it.';
  const responses: { [status: string]: Json } = {
    '200': {
      description: 'What the handler returned, as JSON.',
      content: {
        // Its JSON part: an output that may be undefined is the 204 below as well.
        [JSON_MEDIA]: { schema: endpoint.output ? ((jsonPart(endpoint.output.schema).json ?? {}) as Json) : {} },
      },
    },
    '204': { description: 'The handler returned undefined.' },
    ...(secured ? { '401': errorResponse('No bearer token was sent, or the wrong one.') } : {}),
    ...Object.fromEntries(Object.entries(commonErrors).map(([status, text]) => [status, errorResponse(text)])),
    default: errorResponse('An HttpError the handler threw, with its own status and message.'),
  };
  const common = {
    operationId: operationId(endpoint),
    responses,
    'x-timeout-ms': endpoint.timeoutMs,
  };
  if (argumentInQuery(endpoint.method)) {
    return {
      ...common,
      description:
        `The argument is the JSON text of the \`${ARG_PARAM}\` query parameter, URL-encoded; without it the handler gets undefined. ` +
        `A long argument may instead be sent as a POST to this route with the header \`${METHOD_OVERRIDE_HEADER}: ${endpoint.method}\` and the argument as its JSON body.${unchecked}`,
      parameters: [
        {
          name: ARG_PARAM,
          in: 'query',
          required: endpoint.input !== undefined,
          content: { [JSON_MEDIA]: { schema } },
        },
      ],
    };
  }
  return {
    ...common,
    description: `The argument is the JSON body; without a body the handler gets undefined.${unchecked}`,
    requestBody: { required: endpoint.input !== undefined, content: { [JSON_MEDIA]: { schema } } },
  };
}

export interface OpenApiOptions {
  /** Where callers reach the server (the document's `servers`), if known. */
  readonly servers?: readonly { readonly url: string; readonly description: string }[];
  /** The document's version: the build's tree fingerprint, say. */
  readonly version?: string;
}

export function openApiDocument(server: ApiServer, options: OpenApiOptions = {}): OpenApiDocument {
  const secured = !server.public;
  const paths: { [route: string]: { [method: string]: Json } } = {};
  for (const endpoint of server.endpoints) {
    (paths[endpoint.route] ??= {})[endpoint.method.toLowerCase()] = operation(endpoint, secured);
  }
  paths[HEALTH_ROUTE] = {
    get: {
      operationId: 'health',
      description: 'Whether the server is up; needs no token.',
      security: [],
      responses: {
        '200': {
          description: 'The server is up.',
          content: {
            [JSON_MEDIA]: {
              schema: {
                type: 'object',
                required: ['status', 'id'],
                properties: { status: { const: 'ok' }, id: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
  if (server.public)
    paths[OPENAPI_ROUTE] = {
      get: {
        operationId: 'openApiDocument',
        description: 'This document.',
        responses: { '200': { description: 'The OpenAPI document.', content: { [JSON_MEDIA]: { schema: {} } } } },
      },
    };
  return {
    openapi: '3.1.0',
    info: {
      title: server.id.value,
      version: options.version ?? '0',
      description:
        `ApiServer ${server.id.value}. Each endpoint takes at most one JSON argument and answers JSON ` +
        `(at most ${MAX_ANSWER_BYTES} bytes), 204 when its handler returns undefined, and \`{ error, status }\` for a refusal or a failure.` +
        (secured ? ' Every endpoint but the health check takes `Authorization: Bearer <token>`.' : ''),
    },
    ...(options.servers?.length
      ? { servers: options.servers.map(({ url, description }) => ({ url, description })) }
      : {}),
    ...(secured ? { security: [{ bearer: [] }] } : {}),
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'status'],
          properties: { error: { type: 'string' }, status: { type: 'integer' } },
        },
      },
      ...(secured ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}),
    },
  };
}
