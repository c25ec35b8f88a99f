/**
 * One endpoint of an ApiServer, and how a call to it is carried out on the serving side,
 * the same in one process and behind HTTP.
 */
import type { ApiServer } from './server.ts';
import { HttpError } from './http-error.ts';
import type { Deadlines } from './deadlines.ts';
import type { ArgumentSchema } from './argument-schema.ts';
import type { OutputSchema } from './output-schema.ts';
import { toJsonText } from '../../core/json.ts';
import { errorCodes, InfraError, messageOf } from '../../core/errors.ts';
import { runAs } from '../../core/app.ts';
import { context, type Context, type Exception, type Span } from '@opentelemetry/api';
import { ROOT } from '../../core/telemetry/context.ts';
import { isValidSpanContext } from '../../core/telemetry/span-context.ts';
import { inEnteredSpan, NOT_RECORDING, SpanKind, tracing } from '../../core/telemetry/tracing.ts';
import { served, type EndpointTelemetry } from './telemetry.ts';

/**
 * Answers 200 `{ status: 'ok', id }` without a token, for container healthchecks and the local
 * runner. Here rather than in http-wire.ts so that defining endpoints loads no HTTP code.
 */
export const HEALTH_ROUTE = '/healthz';

/** Where a public ApiServer serves its OpenAPI document (openapi.ts), without a token. */
export const OPENAPI_ROUTE = '/openapi.json';

export const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof httpMethods)[number];

/** GET and DELETE carry their argument in the query string; the others in a JSON body. */
export function argumentInQuery(method: HttpMethod): boolean {
  return method === 'GET' || method === 'DELETE';
}

/** An endpoint's deadline when it names none (`{ timeout }`, in ms). */
export const DEFAULT_ENDPOINT_TIMEOUT_MS = 30_000;

/**
 * Largest argument, as the UTF-8 bytes of its JSON text: the HTTP server's body limit, and the
 * limit in one process too, so an argument refused deployed is refused while developing.
 */
export const MAX_ARGUMENT_BYTES = 1024 * 1024;

/**
 * Largest answer, as the UTF-8 bytes of its JSON text: what the HTTP client reads at most, and
 * so what a handler may return in either mode (more is a 500, and logged).
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** What a handler gets besides its argument. */
export interface EndpointContext {
  /**
   * Aborts when the endpoint's deadline passes (the caller has had its 504 by then) or the
   * server shuts down: pass it to what the handler waits for, or check it between steps.
   */
  readonly signal: AbortSignal;
}

export interface Endpoint {
  readonly server: ApiServer;
  readonly method: HttpMethod;
  readonly route: string;
  readonly handler: (arg: any, context: EndpointContext) => unknown;
  /** The schema the argument must match before the handler runs (`{ input }`), if any. */
  readonly input?: ArgumentSchema;
  /** The schema what the handler returns must match, and its serialiser (`{ output }`), if any. */
  readonly output?: OutputSchema;
  /** How long the handler may take before the caller gets 504, in ms. */
  readonly timeoutMs: number;
  /** Its calls in flight, each to be answered 504 at its deadline. */
  readonly deadlines: Deadlines;
  /** What its spans and its handler's log lines carry. */
  readonly telemetry: EndpointTelemetry;
}

/** What a served call answers: a status and JSON text (undefined body for 204). */
export interface EndpointResult {
  status: number;
  body: string | undefined;
}

export interface InvokeOptions {
  /** Where to report a handler's internal error (its text is never sent to the caller). */
  log: (message: string, err: unknown) => void;
  /** Where to note a caller's mistake the handler passed on (an invalid store key): not a server fault. */
  note: (message: string) => void;
  /** Aborts when the server shuts down; the handler's signal aborts with it. */
  signal?: AbortSignal;
}

/** The HTTP request a call is served for (none in one process). */
export interface ServedRequest {
  /** Its ID (x-request-id), on every log line of the handler. */
  readonly id: string;
  /**
   * Set by invokeEndpoint: the context of the call's server span, in which the HTTP server
   * writes the request's access line once answered (so the line carries the span's trace ID).
   */
  traceContext: Context | undefined;
  /** Set by the HTTP server's route handler: the endpoint the request reached, for its access line. */
  endpoint?: Endpoint;
}

/**
 * Store errors that say the key the caller sent cannot be one: the caller's fault (400), not
 * the server's, when an endpoint without an input schema hands its argument on as a key.
 */
const callerKeyErrors: ReadonlySet<string> = new Set<string>([
  errorCodes.INFRA_INVALID_KEY,
  errorCodes.INFRA_INVALID_INDEX_KEY,
  errorCodes.INFRA_KEY_TOO_LONG,
]);

const TIMED_OUT = Symbol('timed out');

/**
 * What a handler gets besides its argument. Its signal is made on first read: most handlers
 * never read it, and each costs. A class rather than an object literal with a getter (a fresh
 * getter closure per call, which V8 gives a hidden class each): with the literal, the API
 * persona's memory after 100k calls was 232 MiB instead of 111 (`npm run bench -- memory`).
 */
class CallContext implements EndpointContext {
  readonly #serving: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #expired: HttpError | undefined;

  /** `serving`: aborts when the server shuts down. */
  constructor(serving: AbortSignal | undefined) {
    this.#serving = serving;
  }

  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(this.#expired);
      this.#signal = this.#serving
        ? AbortSignal.any([this.#controller.signal, this.#serving])
        : this.#controller.signal;
    }
    return this.#signal;
  }

  /** The deadline passed: the handler's signal aborts with `reason` (now, or when first read). */
  expire(reason: HttpError): void {
    this.#expired = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * Runs `endpoint`'s handler as its server's persona on an argument already parsed from JSON
 * and turns the outcome into a status and JSON text: 200 with the value, 204 for undefined,
 * the status of an HttpError, 504 when the handler outlives its deadline, 400 for a store key
 * the caller got wrong, 503 while a database is unreachable or the server is stopping, or 500
 * with a generic message for anything else. An argument that does not match the endpoint's
 * input schema gets 400 and never reaches the handler.
 *
 * The call is a SERVER span, a child of `caller` (the caller's trace extracted from an HTTP
 * request's headers, or in one process the client span's context), else of the active context
 * (a call from the dev agent), and the
 * handler's log lines name the server, the endpoint and `request`'s ID. All of it runs as the
 * server, whose span and lines these are, also in one process, where the caller's persona is
 * the one running until then.
 */
export function invokeEndpoint(
  endpoint: Endpoint,
  arg: unknown,
  options: InvokeOptions,
  request?: ServedRequest,
  caller?: Context,
): Promise<EndpointResult> {
  const { server, telemetry } = endpoint;
  const scope = request === undefined ? telemetry.scope : { ...telemetry.scope, requestId: request.id };
  if (tracing()) {
    return inEnteredSpan<EndpointResult>(
      telemetry.name,
      SpanKind.SERVER,
      server.id.value,
      telemetry.attributes,
      (span) => {
        if (request !== undefined && isValidSpanContext(span.spanContext())) request.traceContext = context.active();
        return invokeHandler(endpoint, arg, options, span);
      },
      caller ?? context.active(),
      server.id.value,
      (traced, work) => runAs(server.app, server, work, scope, traced),
      served,
    );
  }
  // Not traced: no span to open, and nothing to record on it. A caller's trace extracted all the
  // same (metrics only, say) is the handler's log lines'; the one already active needs no switch.
  const trace = caller === undefined || caller === ROOT || caller === context.active() ? undefined : caller;
  return runAs(server.app, server, () => invokeHandler(endpoint, arg, options, NOT_RECORDING), scope, trace);
}

async function invokeHandler(
  endpoint: Endpoint,
  arg: unknown,
  options: InvokeOptions,
  span: Span,
): Promise<EndpointResult> {
  const { server, input } = endpoint;
  if (input !== undefined) {
    // Compiled when the server started; the await is only for a call made before that.
    const problem = (input.check ?? (await input.compile()))(arg);
    if (problem !== undefined) return { status: 400, body: errorBody(400, invalidArgumentMessage(endpoint, problem)) };
  }
  const context = new CallContext(options.signal);
  const outcome = Promise.withResolvers<unknown>();
  const deadline = endpoint.deadlines.add(() => outcome.resolve(TIMED_OUT));
  try {
    // A handler throwing at once fails the call like one that rejects later.
    try {
      Promise.resolve(endpoint.handler(arg, context)).then(outcome.resolve, outcome.reject);
    } catch (err) {
      outcome.reject(err);
    }
    const value = await outcome.promise;
    if (value === TIMED_OUT) {
      const message = timeoutMessage(endpoint);
      // The handler may still be running: its signal tells it to stop, its outcome is dropped.
      context.expire(new HttpError(504, message));
      options.log(`${server} ${endpoint.method} ${endpoint.route}: ${message}`, undefined);
      return { status: 504, body: errorBody(504, message) };
    }
    let body: string | undefined;
    const output = endpoint.output;
    if (output === undefined)
      body = toJsonText(
        value,
        server.toString(),
        `the value ${endpoint.method} ${endpoint.route} returned`,
        server.id.value,
      );
    else {
      // Compiled when the server started; the await is only for a call made before that.
      if (output.check === undefined) await output.compile();
      const problem = output.check!(value);
      if (problem !== undefined) {
        options.log(
          `${server} ${endpoint.method} ${endpoint.route}: the value it returned does not match its output schema: ${problem}`,
          undefined,
        );
        return { status: 500, body: errorBody(500, internalErrorMessage(endpoint)) };
      }
      body = value === undefined ? undefined : output.serialize!(value);
    }
    if (body !== undefined && exceedsBytes(body, MAX_ANSWER_BYTES)) {
      options.log(
        `${server} ${endpoint.method} ${endpoint.route}: the value it returned is ${Buffer.byteLength(body)} bytes as JSON, more than the ${MAX_ANSWER_BYTES} an answer may have; return less per call (a page of the results)`,
        undefined,
      );
      return { status: 500, body: errorBody(500, internalErrorMessage(endpoint)) };
    }
    return { status: body === undefined ? 204 : 200, body };
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, body: errorBody(err.status, err.message) };
    if (InfraError.isInfraError(err) && err.code === errorCodes.INFRA_INVALID_MESSAGE) {
      // The handler published what the caller sent, and the topic's schema refused it.
      options.note(`${server} ${endpoint.method} ${endpoint.route}: refused the message to publish (${err.message})`);
      return { status: 400, body: errorBody(400, err.message) };
    }
    if (InfraError.isInfraError(err) && callerKeyErrors.has(err.code)) {
      options.note(`${server} ${endpoint.method} ${endpoint.route}: refused the caller's key (${err.message})`);
      return { status: 400, body: errorBody(400, err.message) };
    }
    if (options.signal?.aborted) {
      options.note(`${server} ${endpoint.method} ${endpoint.route}: the handler stopped as the server shut down`);
      const error = `Service unavailable in ${server.id.value} (${endpoint.method} ${endpoint.route}): the server is shutting down; try again shortly`;
      return { status: 503, body: errorBody(503, error) };
    }
    options.log(`${server} ${endpoint.method} ${endpoint.route}: handler failed`, err);
    // The trace gets what the log gets (the caller gets neither); its status (served, telemetry.ts) fails the span.
    if (span.isRecording())
      span.recordException(typeof err === 'object' && err !== null ? (err as Exception) : messageOf(err));
    // A database outage, or an index being rebuilt, is temporary: say so (503) so callers may
    // retry, still without internal text.
    const code = (err as { code?: unknown } | null)?.code;
    if (code === errorCodes.INFRA_STORE_UNAVAILABLE || code === errorCodes.INFRA_INDEX_REBUILDING) {
      const why =
        code === errorCodes.INFRA_STORE_UNAVAILABLE
          ? 'a database it needs is unreachable'
          : 'an index it reads is being rebuilt';
      const error = `Service unavailable in ${server.id.value} (${endpoint.method} ${endpoint.route}): ${why}; try again shortly`;
      return { status: 503, body: errorBody(503, error) };
    }
    return { status: 500, body: errorBody(500, internalErrorMessage(endpoint)) };
  } finally {
    deadline.remove();
  }
}

function timeoutMessage(endpoint: Endpoint): string {
  return `Timeout in ${endpoint.server.id.value} (${endpoint.method} ${endpoint.route}): the handler did not answer within ${endpoint.timeoutMs} ms`;
}

/** Why an argument over `limit` bytes is refused (413), after `ApiServer <id>: ` in both modes. */
export function argumentTooLargeProblem(endpoint: Endpoint, limit: number): string {
  return `the argument of ${endpoint.method} ${endpoint.route} is larger than the limit of ${limit} bytes (as JSON text)`;
}

/** Whether `text` is longer than `limit` bytes in UTF-8 (counted only when it could be). */
export function exceedsBytes(text: string, limit: number): boolean {
  return text.length * 3 > limit && Buffer.byteLength(text) > limit;
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
