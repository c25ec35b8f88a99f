/**
 * One endpoint of an ApiServer, and how a call to it is carried out on the serving side,
 * the same in one process and behind HTTP.
 */
import type { ApiServer } from './server.ts';
import { HttpError } from './http-error.ts';
import type { ArgumentSchema } from './argument-schema.ts';
import { toJsonText } from '../../core/json.ts';
import { errorCodes } from '../../core/errors.ts';

/**
 * Answers 200 `{ status: 'ok', id }` without a token, for container healthchecks and the local
 * runner. Here rather than in http-wire.ts so that defining endpoints loads no HTTP code.
 */
export const HEALTH_ROUTE = '/healthz';

export const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof httpMethods)[number];

/** GET and DELETE carry their argument in the query string; the others in a JSON body. */
export function argumentInQuery(method: HttpMethod): boolean {
  return method === 'GET' || method === 'DELETE';
}

export interface Endpoint {
  readonly server: ApiServer;
  readonly method: HttpMethod;
  readonly route: string;
  readonly handler: (arg: any) => unknown;
  /** The schema the argument must match before the handler runs (`{ input }`), if any. */
  readonly input?: ArgumentSchema;
}

/** What a served call answers: a status and JSON text (undefined body for 204). */
export interface EndpointResult {
  status: number;
  body: string | undefined;
}

export interface InvokeOptions {
  /** Where to report a handler's internal error (its text is never sent to the caller). */
  log: (message: string, err: unknown) => void;
}

/**
 * Runs `endpoint`'s handler as its server's persona on an argument already parsed from JSON
 * and turns the outcome into a status and JSON text: 200 with the value, 204 for undefined,
 * the status of an HttpError, or 500 with a generic message for anything else. An argument
 * that does not match the endpoint's input schema gets 400 and never reaches the handler.
 */
export async function invokeEndpoint(
  endpoint: Endpoint,
  arg: unknown,
  options: InvokeOptions,
): Promise<EndpointResult> {
  const { server, input } = endpoint;
  if (input !== undefined) {
    // Compiled when the server started; the await is only for a call made before that.
    const problem = (input.check ?? (await input.compile()))(arg);
    if (problem !== undefined) return { status: 400, body: errorBody(400, invalidArgumentMessage(endpoint, problem)) };
  }
  try {
    const value = await server.app.runAs(server, () => endpoint.handler(arg));
    const body = toJsonText(
      value,
      server.toString(),
      `the value ${endpoint.method} ${endpoint.route} returned`,
      server.id.value,
    );
    return { status: body === undefined ? 204 : 200, body };
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, body: errorBody(err.status, err.message) };
    options.log(`${server} ${endpoint.method} ${endpoint.route}: handler failed`, err);
    // A database outage is temporary: say so (503) so callers may retry, still without internal text.
    if ((err as { code?: unknown } | null)?.code === errorCodes.INFRA_STORE_UNAVAILABLE) {
      const error = `Service unavailable in ${server.id.value} (${endpoint.method} ${endpoint.route}): a database it needs is unreachable; try again shortly`;
      return { status: 503, body: errorBody(503, error) };
    }
    return { status: 500, body: errorBody(500, internalErrorMessage(endpoint)) };
  }
}

function invalidArgumentMessage(endpoint: Endpoint, problem: string): string {
  return `Invalid argument to ${endpoint.server.id.value} (${endpoint.method} ${endpoint.route}): ${problem}`;
}

export function internalErrorMessage(endpoint: Endpoint): string {
  return `Internal error in ${endpoint.server.id.value} (${endpoint.method} ${endpoint.route}); the server's log has the details`;
}

/** The client-side view of an EndpointResult: the value, or an HttpError to throw. */
export function resultValue(endpoint: Endpoint, result: EndpointResult): unknown {
  const parsed: unknown = result.body === undefined || result.body === '' ? undefined : JSON.parse(result.body);
  if (result.status < 400) return parsed;
  const message =
    typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string'
      ? (parsed as { error: string }).error
      : `${endpoint.method} ${endpoint.route} on ${endpoint.server.id.value} answered ${result.status}`;
  throw new HttpError(result.status, message);
}

/** The JSON text of an error answer (`{ error, status }`), in one process and over HTTP alike. */
export function errorBody(status: number, message: string): string {
  return JSON.stringify({ error: message, status });
}
