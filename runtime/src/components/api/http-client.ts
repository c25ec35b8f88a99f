/**
 * Calling an ApiServer's endpoints over HTTP (the deployed mode), through one keep-alive
 * undici Pool per server. The answer is turned back into a value, or an HttpError to throw,
 * by endpoint.ts's `resultValue`, so a caller sees exactly what it sees in one process.
 *
 * A GET or DELETE argument too long for a URL is sent as a POST with `x-http-method-override`
 * (http-wire.ts), which the server routes to that endpoint alone; an answer is read up to a
 * limit, past which the call fails naming the server.
 *
 * A call that cannot reach the server fails with an error naming the ApiServer and its URL.
 * Idempotent calls (GET, PUT, DELETE) are tried again after a connection failure; the others
 * never, since the server may have run them.
 *
 * The call's span is the client function's (telemetry.ts); here it gets the URL and the server,
 * the request carries its trace context (W3C traceparent) to the server, and each attempt's
 * duration is recorded (http.client.request.duration).
 */
import type { Dispatcher, Pool as UndiciPool } from 'undici';
// undici's Pool from its own file: undici's index loads fetch, WebSocket, the cache, proxy and
// mock agents with it (135 ms of a calling persona's start, against 45 for the Pool). We use
// only `dispatch` (the index adds request() and friends to every dispatcher); the api-http test
// checks that this file's class is the one undici exports.
// @ts-expect-error -- undici declares the types of its index only
import PoolFromItsFile from 'undici/lib/dispatcher/pool.js';
import { context, propagation, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiServer } from './server.ts';
import { MAX_ANSWER_BYTES, argumentInQuery, resultValue, type Endpoint, type HttpMethod } from './endpoint.ts';
import { ARG_PARAM, MAX_QUERY_LENGTH, METHOD_OVERRIDE_HEADER, bearer } from './http-wire.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { API_CLIENT_CONNECTIONS } from '../connection-limits.ts';
import { httpClientDuration, metricsRecording, type DurationSeries } from '../../core/telemetry/metrics.ts';
import {
  ATTR_COMPONENT_ID,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
} from '../../core/telemetry/attributes.ts';
import { errorType } from './telemetry.ts';
import { isValidSpanContext } from '../../core/telemetry/span-context.ts';

const Pool: typeof UndiciPool = PoolFromItsFile;

export interface HttpClientOptions {
  /** The server's bearer token, sent with every call; none for a public API. */
  token?: string;
  /** Time to open a connection (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Time to wait for the answer's headers, and then between chunks of its body (default 120 s,
   * or 10 s more than the endpoint's deadline, so the server's 504 comes first).
   */
  timeoutMs?: number;
  /**
   * Largest answer read, in bytes (default 8 MiB, the most an ApiServer answers); a larger one
   * fails the call (INFRA_API_ANSWER_TOO_LARGE).
   */
  maxAnswerBytes?: number;
  /** Further attempts of an idempotent call after a connection failure (default 2). */
  retries?: number;
  /** Connections kept per server (default 64: connection-limits.ts). */
  connections?: number;
}

const idempotent: ReadonlySet<HttpMethod> = new Set(['GET', 'PUT', 'DELETE']);

/** Connection failures worth another attempt: the request did not reach a handler, or may not have. */
const retryable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export class HttpApiClient {
  readonly server: ApiServer;
  /** The base URL, e.g. `http://my-app--api:20000`. */
  readonly url: string;
  readonly #pool: UndiciPool;
  readonly #origin: string;
  readonly #address: string;
  readonly #port: number;
  readonly #prefix: string;
  readonly #headers: Record<string, string>;
  readonly #bodyHeaders: Record<string, string>;
  readonly #retries: number;
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;
  readonly #maxAnswerBytes: number;
  /** Each endpoint's span attributes of its URL and server. */
  readonly #urlAttributes = new WeakMap<Endpoint, Attributes>();
  /** Each endpoint's duration series, by status or error type: found once, then kept. */
  readonly #durationSeries = new WeakMap<Endpoint, Map<string | number, DurationSeries>>();

  constructor(server: ApiServer, url: string, options: HttpClientOptions = {}) {
    const base = new URL(url);
    this.server = server;
    this.url = url;
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.#origin = base.origin;
    // The conventions' server.address is the host without IPv6 brackets; the port is always given.
    this.#address = base.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = base.port === '' ? (base.protocol === 'https:' ? 443 : 80) : Number(base.port);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#retries = options.retries ?? 2;
    this.#maxAnswerBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    this.#headers = options.token === undefined ? {} : { authorization: bearer(options.token) };
    this.#bodyHeaders = { ...this.#headers, 'content-type': 'application/json' };
    this.#pool = new Pool(base.origin, {
      connections: options.connections ?? API_CLIENT_CONNECTIONS.default,
      connectTimeout: this.#connectTimeoutMs,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      maxResponseSize: this.#maxAnswerBytes,
    });
  }

  /**
   * Calls `endpoint` with the argument's JSON text and resolves to its value, or rejects as in
   * one process. `traced`: the context of the call's span, sent as the request's traceparent
   * (the active one when not given).
   */
  async call(endpoint: Endpoint, text: string | undefined, traced: Context = context.active()): Promise<unknown> {
    const { method, route } = endpoint;
    const inQuery = argumentInQuery(method);
    const query = inQuery && text !== undefined ? `?${ARG_PARAM}=${encodeURIComponent(text)}` : '';
    const path = this.#prefix + route;
    const timeouts = this.#timeouts(endpoint);
    const span = this.#traced(endpoint, path, traced);
    const request =
      query.length > MAX_QUERY_LENGTH
        ? {
            method: 'POST' as const,
            path,
            headers: withTraceContext(traced, span, { ...this.#bodyHeaders, [METHOD_OVERRIDE_HEADER]: method }, false),
            body: text,
            ...timeouts,
          }
        : inQuery || text === undefined
          ? { method, path: path + query, headers: withTraceContext(traced, span, this.#headers, true), ...timeouts }
          : { method, path, headers: withTraceContext(traced, span, this.#bodyHeaders, true), body: text, ...timeouts };
    const attempts = 1 + this.#retries;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let body: string;
      const startedAt = performance.now();
      try {
        ({ status, body } = await exchange(this.#pool, request));
        this.#recordDuration(endpoint, startedAt, ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      } catch (err) {
        this.#recordDuration(endpoint, startedAt, ATTR_ERROR_TYPE, errorType(err));
        const code = errorCode(err);
        if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE')
          throw errors.apiAnswerTooLarge(this.server.id.value, this.url, `${method} ${route}`, this.#maxAnswerBytes);
        // Any call may be retried when the connection was never made (the server cannot have seen
        // it); only idempotent ones after a failure that may have reached a handler.
        const neverSent =
          code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT';
        if (attempt < attempts && code !== undefined && retryable.has(code) && (neverSent || idempotent.has(method))) {
          await sleep(100 * 3 ** (attempt - 1));
          continue;
        }
        throw errors.apiUnreachable(
          this.server.id.value,
          this.url,
          `${method} ${route}`,
          this.#reason(err, code, endpoint),
          attempt,
          err,
        );
      }
      try {
        return resultValue(endpoint, { status, body });
      } catch (err) {
        if (err instanceof SyntaxError)
          throw errors.apiBadAnswer(this.server.id.value, this.url, `${method} ${route}`, status);
        throw err;
      }
    }
  }

  /**
   * The span of `traced` (the client function's), with the URL (never the query string, which
   * holds the argument) and the server, when a trace context is to go with the request; else undefined.
   */
  #traced(endpoint: Endpoint, path: string, traced: Context): Span | undefined {
    const span = trace.getSpan(traced);
    if (span === undefined || !isValidSpanContext(span.spanContext())) return undefined;
    if (span.isRecording()) {
      // One frozen set per endpoint, which the tracer encodes once (telemetry-tracer.ts).
      let attributes = this.#urlAttributes.get(endpoint);
      if (attributes === undefined) {
        attributes = Object.freeze({
          [ATTR_URL_FULL]: this.#origin + path,
          [ATTR_SERVER_ADDRESS]: this.#address,
          [ATTR_SERVER_PORT]: this.#port,
        });
        this.#urlAttributes.set(endpoint, attributes);
      }
      span.setAttributes(attributes);
    }
    return span;
  }

  /** One attempt's duration, with its status or, when no answer came, its error's type. */
  #recordDuration(endpoint: Endpoint, startedAt: number, outcome: string, value: string | number): void {
    if (!metricsRecording()) return;
    let byOutcome = this.#durationSeries.get(endpoint);
    if (byOutcome === undefined) this.#durationSeries.set(endpoint, (byOutcome = new Map()));
    let series = byOutcome.get(value);
    if (series === undefined) {
      const server = this.server.id.value;
      const key = `${server} ${this.#address}:${this.#port} ${endpoint.method} ${endpoint.route} ${outcome}=${value}`;
      series = httpClientDuration.series(key, () => ({
        [ATTR_HTTP_REQUEST_METHOD]: endpoint.method,
        [ATTR_HTTP_ROUTE]: endpoint.route,
        [ATTR_SERVER_ADDRESS]: this.#address,
        [ATTR_SERVER_PORT]: this.#port,
        [ATTR_COMPONENT_ID]: server,
        [outcome]: value,
      }));
      byOutcome.set(value, series);
    }
    series.recordSince(startedAt);
  }

  /** A call's own timeouts when its endpoint's deadline is longer than the client's. */
  #timeouts(endpoint: Endpoint): { headersTimeout: number; bodyTimeout: number } | undefined {
    if (endpoint.timeoutMs + 10_000 <= this.#timeoutMs) return undefined;
    const timeout = endpoint.timeoutMs + 10_000;
    return { headersTimeout: timeout, bodyTimeout: timeout };
  }

  /** Closes the connections once the calls in flight are done. */
  async close(): Promise<void> {
    if (!this.#pool.closed) await this.#pool.close();
  }

  #reason(err: unknown, code: string | undefined, endpoint?: Endpoint): string {
    switch (code) {
      case 'ECONNREFUSED':
        return 'the connection was refused';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'its host name was not found';
      case 'UND_ERR_CONNECT_TIMEOUT':
        return `no connection was made within ${this.#connectTimeoutMs} ms`;
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return `no answer came within ${Math.max(this.#timeoutMs, (endpoint?.timeoutMs ?? 0) + 10_000)} ms`;
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
        return 'the connection was closed before an answer came';
      case 'UND_ERR_DESTROYED':
      case 'UND_ERR_CLOSED':
        return 'the client was closed (the app is stopping)';
      default:
        return messageOf(err);
    }
  }
}

/**
 * Sends one request and reads its whole answer as text. Through undici's `dispatch`, not
 * `request`: request() hands the answer over as a Node stream, through an AsyncResource, which
 * an answer read whole at once never needs (a call cost the client 54 µs of CPU that way, 41
 * this way: bench/profile-api.ts against raw Fastify). Errors, timeouts and maxResponseSize
 * are the Pool's, the same for both.
 */
function exchange(pool: UndiciPool, request: Dispatcher.DispatchOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      // Called again after a 1xx: the last status is the answer's.
      onResponseStart(_controller, statusCode) {
        status = statusCode;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        const text = chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString();
        // As request()'s body.text() (UTF-8 decode, as fetch does): a leading byte order mark is not text.
        resolve({ status, body: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text });
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    };
    try {
      pool.dispatch(request, handler);
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * `headers` with the trace context of `traced` (traceparent) added, when there is one to send: a copy
 * when `shared` (the client's own headers), else `headers` itself. Without a trace (telemetry
 * not configured) the headers are sent as they are, uncopied.
 */
function withTraceContext(
  traced: Context,
  span: Span | undefined,
  headers: Record<string, string>,
  shared: boolean,
): Record<string, string> {
  if (span === undefined) return headers;
  const carrier = shared ? { ...headers } : headers;
  propagation.inject(traced, carrier);
  return carrier;
}

/** The code of a connection error; happy-eyeballs failures come as an AggregateError of them. */
function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}
