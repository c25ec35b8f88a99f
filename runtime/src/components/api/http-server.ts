/**
 * An ApiServer's endpoints served over HTTP by Fastify (the deployed mode). The call itself is
 * endpoint.ts's `invokeEndpoint`, as in one process; this module only carries the argument
 * in and the result out (http-wire.ts), and answers bad requests with a 4xx that names the
 * problem and never an internal text.
 *
 * Everything that can be decided per endpoint (its argument source, its token check, its
 * invoke options) is decided once at start, so the request path is a parse, a call and a send.
 */
import { shorten } from '../../private/text.ts';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApiServer } from './server.ts';
import { argumentInQuery, invokeEndpoint, type Endpoint, type InvokeOptions } from './endpoint.ts';
import {
  ARG_PARAM,
  HEALTH_ROUTE,
  JSON_CONTENT_TYPE,
  JsonInputError,
  MAX_JSON_DEPTH,
  bearer,
  errorBody,
  parseUntrustedJson,
} from './http-wire.ts';
import type { Logger } from '../../core/logger.ts';
import { errors } from '../../core/errors.ts';

export interface HttpServerOptions {
  port: number;
  host: string;
  log: Logger;
  /** The bearer token every endpoint call must carry (the health check needs none); none for a public API. */
  token?: string;
  /** Largest request body accepted, in bytes (default 1 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** Time to receive a whole request (default 30 s). */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed, which also bounds a handler's time (default 120 s). */
  connectionTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept (default 72 s, Fastify's). */
  keepAliveTimeoutMs?: number;
  /** A handler that has not answered after this long gets a 503 (default 0: none besides connectionTimeoutMs). */
  handlerTimeoutMs?: number;
}

export interface ServingApi {
  /** `http://host:port` as bound (host as given, port as chosen when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** A request the server refuses with a 4xx and a message fit to send. */
class RequestError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

/**
 * Serves `server`'s endpoints on `options.host:options.port`; resolves once it listens. When
 * `signal` aborts, it stops accepting and finishes the requests in flight (`close()`).
 */
export async function serveHttp(
  server: ApiServer,
  signal: AbortSignal,
  options: HttpServerOptions,
): Promise<ServingApi> {
  const { log } = options;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const name = server.id.value;
  // While closing, every answer closes its connection, so a keep-alive connection whose call
  // was in flight does not hold the close up for the keep-alive timeout.
  const state: ServerState = { closing: false };
  const app = Fastify({
    logger: false,
    bodyLimit,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    connectionTimeout: options.connectionTimeoutMs ?? 120_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 72_000,
    handlerTimeout: options.handlerTimeoutMs || undefined,
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { compile: true },
    // A URL that cannot be decoded, refused in our words rather than Fastify's.
    frameworkErrors: (_err, request, reply) =>
      sendError(
        state,
        reply,
        400,
        `ApiServer ${name}: the request URL ${JSON.stringify(shorten(request.url))} is not valid`,
      ),
  });

  // Only JSON bodies; an empty one is the `undefined` argument, as in one process.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, parseUntrustedJson(body as string));
    } catch (err) {
      done(bodyError(err), undefined);
    }
  });

  const invokeOptions: InvokeOptions = { log: (message, err) => log.error(message, err) };
  const checkToken = options.token === undefined ? undefined : tokenCheck(options.token);
  const methodsByRoute = new Map<string, string[]>();
  for (const endpoint of server.endpoints) {
    if (endpoint.route === HEALTH_ROUTE) throw errors.reservedRoute(name, HEALTH_ROUTE);
    methodsByRoute.set(endpoint.route, [...(methodsByRoute.get(endpoint.route) ?? []), endpoint.method]);
    app.route({
      method: endpoint.method,
      url: endpoint.route,
      handler: endpointHandler(endpoint, state, invokeOptions, checkToken),
    });
  }

  const health = JSON.stringify({ status: 'ok', id: name });
  app.get(HEALTH_ROUTE, (_request, reply) => reply.header('content-type', JSON_CONTENT_TYPE).send(health));

  app.setNotFoundHandler((request, reply) => {
    const path = shorten(request.url.split('?', 1)[0]);
    const allowed = methodsByRoute.get(path);
    if (allowed) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        state,
        reply,
        405,
        `ApiServer ${name}: ${path} does not take ${shorten(request.method)}; it takes ${allowed.join(', ')}`,
      );
    }
    return sendError(state, reply, 404, `ApiServer ${name} has no endpoint ${shorten(request.method)} ${path}`);
  });

  app.setErrorHandler((err: FastifyError | RequestError, request, reply) => {
    const refused = refusal(err, bodyLimit, request);
    if (refused) return sendError(state, reply, refused.status, `ApiServer ${name}: ${refused.message}`);
    log.error(`ApiServer ${name} ${request.method} ${shorten(request.url)}: request failed`, err);
    return sendError(state, reply, 500, `Internal error in ${name}; the server's log has the details`);
  });

  // Node hands CONNECT (a proxy tunnel request) to a 'connect' listener and, with none, drops
  // the connection unanswered; it is answered like any other method no endpoint takes.
  app.server.on('connect', (_request: unknown, socket: Duplex) => {
    const body = errorBody(405, `ApiServer ${name} is not a proxy: it does not take CONNECT`);
    socket.on('error', () => {}); // the client may already be gone; nothing to tell it then
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });

  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    await app.close();
    throw errors.listenFailed(name, `${host}:${options.port}`, err);
  }
  const port = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= ((state.closing = true), app.close()).then(
      () => signal.removeEventListener('abort', close),
      (err: unknown) => log.error(`ApiServer ${name}: closing the HTTP server failed`, err),
    ));
  signal.addEventListener('abort', close, { once: true });
  if (signal.aborted) void close();
  return { url: `http://${host}:${port}`, port, close };
}

interface ServerState {
  closing: boolean;
}

type TokenCheck = (authorization: string | undefined) => boolean;

/** Compares in constant time, so the answer's timing tells nothing about the token. */
function tokenCheck(token: string): TokenCheck {
  const expected = Buffer.from(bearer(token), 'latin1');
  return (authorization) =>
    authorization !== undefined &&
    authorization.length === expected.length &&
    timingSafeEqual(Buffer.from(authorization, 'latin1'), expected);
}

function endpointHandler(
  endpoint: Endpoint,
  state: ServerState,
  invokeOptions: InvokeOptions,
  checkToken: TokenCheck | undefined,
) {
  const inQuery = argumentInQuery(endpoint.method);
  const name = endpoint.server.id.value;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (checkToken && !checkToken(request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer');
      const said = request.headers.authorization === undefined ? 'none was sent' : 'the one sent is wrong';
      return sendError(state, reply, 401, `ApiServer ${name} takes calls only with its bearer token; ${said}`);
    }
    const arg = inQuery ? queryArgument(request.query as Record<string, unknown>) : request.body;
    const result = await invokeEndpoint(endpoint, arg, invokeOptions);
    reply.code(result.status);
    if (state.closing) reply.header('connection', 'close');
    return result.body === undefined ? reply.send() : reply.header('content-type', JSON_CONTENT_TYPE).send(result.body);
  };
}

function queryArgument(query: Record<string, unknown>): unknown {
  const text = query[ARG_PARAM];
  if (text === undefined) return undefined;
  if (typeof text !== 'string') throw new RequestError(400, `the query parameter "${ARG_PARAM}" must be given once`);
  try {
    return parseUntrustedJson(text);
  } catch (err) {
    throw inputError(err, `the query parameter "${ARG_PARAM}"`);
  }
}

function bodyError(err: unknown): RequestError {
  return inputError(err, 'the request body');
}

function inputError(err: unknown, what: string): RequestError {
  const problem = err instanceof JsonInputError ? err.problem : 'syntax';
  if (problem === 'forbiddenKey')
    return new RequestError(400, `${what} has a "__proto__" or "constructor.prototype" key, which is not accepted`);
  if (problem === 'tooDeep')
    return new RequestError(
      400,
      `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels, which is not accepted`,
    );
  return new RequestError(400, `${what} is not valid JSON`);
}

/** The status and message of a request refused before it reached a handler, or undefined for a server fault. */
function refusal(
  err: FastifyError | RequestError,
  bodyLimit: number,
  request: FastifyRequest,
): { status: number; message: string } | undefined {
  if (err instanceof RequestError) return { status: err.statusCode, message: err.message };
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = request.headers['content-type'];
      return {
        status: 415,
        message: `content type ${type ? JSON.stringify(shorten(type)) : '(none)'} is not accepted; send the argument as JSON with content-type application/json`,
      };
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `the request body is larger than the limit of ${bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'the request body does not match its content-length' };
    case 'FST_ERR_HANDLER_TIMEOUT':
      return {
        status: 503,
        message: `${request.method} ${shorten(request.url.split('?', 1)[0])} did not answer in time`,
      };
  }
  // Other refusals Fastify raises before routing (a bad URL, an aborted body): its status, our words.
  const status = err.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && err.code?.startsWith('FST_')) {
    return { status, message: `the request was refused (${STATUS_CODES[status] ?? status})` };
  }
  return undefined;
}

function sendError(state: ServerState, reply: FastifyReply, status: number, message: string): FastifyReply {
  if (state.closing) reply.header('connection', 'close');
  return reply.code(status).header('content-type', JSON_CONTENT_TYPE).send(errorBody(status, message));
}
