/**
 * Calling an ApiServer's endpoints over HTTP (the deployed mode), through one keep-alive
 * undici Pool per server. The answer is turned back into a value, or an HttpError to throw,
 * by endpoint.ts's `resultValue`, so a caller sees exactly what it sees in one process.
 *
 * A call that cannot reach the server fails with an error naming the ApiServer and its URL.
 * Idempotent calls (GET, PUT, DELETE) are tried again after a connection failure; the others
 * never, since the server may have run them.
 */
import { Pool } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiServer } from './server.ts';
import { argumentInQuery, resultValue, type Endpoint, type HttpMethod } from './endpoint.ts';
import { ARG_PARAM, bearer } from './http-wire.ts';
import { errors, messageOf } from '../../core/errors.ts';

export interface HttpClientOptions {
  /** The server's bearer token, sent with every call; none for a public API. */
  token?: string;
  /** Time to open a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Time to wait for the answer's headers, and then between chunks of its body (default 120 s). */
  timeoutMs?: number;
  /** Further attempts of an idempotent call after a connection failure (default 2). */
  retries?: number;
  /** Connections kept per server (default 64). */
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
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #headers: Record<string, string>;
  readonly #bodyHeaders: Record<string, string>;
  readonly #retries: number;
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;

  constructor(server: ApiServer, url: string, options: HttpClientOptions = {}) {
    const base = new URL(url);
    this.server = server;
    this.url = url;
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#retries = options.retries ?? 2;
    this.#headers = options.token === undefined ? {} : { authorization: bearer(options.token) };
    this.#bodyHeaders = { ...this.#headers, 'content-type': 'application/json' };
    this.#pool = new Pool(base.origin, {
      connections: options.connections ?? 64,
      connectTimeout: this.#connectTimeoutMs,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  /** Calls `endpoint` with the argument's JSON text and resolves to its value, or rejects as in one process. */
  async call(endpoint: Endpoint, text: string | undefined): Promise<unknown> {
    const { method, route } = endpoint;
    const inQuery = argumentInQuery(method);
    const path =
      this.#prefix + (inQuery && text !== undefined ? `${route}?${ARG_PARAM}=${encodeURIComponent(text)}` : route);
    const request =
      inQuery || text === undefined
        ? { method, path, headers: this.#headers }
        : { method, path, headers: this.#bodyHeaders, body: text };
    const attempts = 1 + this.#retries;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let body: string;
      try {
        const response = await this.#pool.request(request);
        status = response.statusCode;
        body = await response.body.text();
      } catch (err) {
        const code = errorCode(err);
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
          this.#reason(err, code),
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

  /** Closes the connections once the calls in flight are done. */
  async close(): Promise<void> {
    if (!this.#pool.closed) await this.#pool.close();
  }

  #reason(err: unknown, code: string | undefined): string {
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
        return `no answer came within ${this.#timeoutMs} ms`;
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

/** The code of a connection error; happy-eyeballs failures come as an AggregateError of them. */
function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}
