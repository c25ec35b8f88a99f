/**
 * An ApiServer's endpoints served over HTTP by Fastify (the deployed mode). The call itself is
 * endpoint.ts's `invokeEndpoint`, as in one process; this module only carries the argument
 * in and the result out (http-wire.ts), and answers bad requests with a 4xx that names the
 * problem and never an internal text.
 *
 * Everything that can be decided per endpoint (its argument source, its token check, its
 * invoke options) is decided once at start, so the request path is a parse, a call and a send.
 *
 * Each request gets an ID (its x-request-id, or a new one), answered back in x-request-id and
 * carried by the handler's log lines, and one access line once answered, whatever the outcome:
 * method, route, status, duration and ID, in the trace of the call (access.ts). A call continues
 * the caller's trace (its traceparent header) with the SERVER span invokeEndpoint makes.
 */
import { shorten } from '../../private/text.ts';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { nodeHttp } from '../../private/node-http.ts';
import { openApiDocument } from './openapi.ts';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApiServer } from './server.ts';
import {
  MAX_ARGUMENT_BYTES,
  argumentInQuery,
  argumentTooLargeProblem,
  invokeEndpoint,
  OPENAPI_ROUTE,
  type Endpoint,
  type InvokeOptions,
  type ServedRequest,
} from './endpoint.ts';
import {
  ARG_PARAM,
  HEALTH_ROUTE,
  JSON_CONTENT_TYPE,
  JsonInputError,
  MAX_JSON_DEPTH,
  METHOD_OVERRIDE_HEADER,
  errorBody,
  parseUntrustedJson,
} from './http-wire.ts';
import type { Logger } from '../../core/logger.ts';
import { errors } from '../../core/errors.ts';
import { propagation } from '@opentelemetry/api';
import { ROOT } from '../../core/telemetry/context.ts';
import { rootLogger } from '../../core/telemetry/log.ts';
import { closeIdleConnections } from './idle-connections.ts';
import { REQUEST_ID_HEADER, accessLogger, requestIdOf, type AccessLogger } from './access.ts';

// Not `import { STATUS_CODES } from 'node:http'`: see nodeHttp in private/node-http.ts.
const { STATUS_CODES } = nodeHttp();

export interface HttpServerOptions {
  port: number;
  host: string;
  log: Logger;
  /** The bearer token every endpoint call must carry (the health check needs none); none for a public API. */
  token?: string;
  /** Largest request body accepted, in bytes (default 1 MiB, as in one process); larger ones get 413. */
  bodyLimit?: number;
  /** Time to receive a request's headers (default 10 s); then 408 and the connection is closed. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (default 30 s); then 408 and the connection is closed. */
  requestTimeoutMs?: number;
  /**
   * A connection with no traffic for this long is closed (default 120 s, or 10 s more than the
   * longest endpoint deadline): a client that stops reading its answer.
   */
  connectionTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept (default 72 s, Fastify's: above load balancers' usual 60 s). */
  keepAliveTimeoutMs?: number;
  /** Open connections at most (default 1000); further ones are closed at once, unanswered. */
  maxConnections?: number;
  /** The version a public API's OpenAPI document gives (the build's tree fingerprint). */
  openApiVersion?: string;
}

export interface ServingApi {
  /** `http://host:port` as bound (host as given, port as chosen when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. Idempotent. */
  close(): Promise<void>;
}

/**
 * How often Node checks the headers and request timeouts (its default, 30 s, would let a
 * request that should time out at 10 s live up to 40 s).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * A POST carrying a GET or DELETE endpoint's argument as its body (the client's way for an
 * argument too long for a URL) is routed by its METHOD_OVERRIDE_HEADER to that endpoint only:
 * a route constrained on the header. Must match when sent, so the header never falls through
 * to another route.
 */
const methodOverride: ConstraintStrategy = {
  name: 'methodOverride',
  mustMatchWhenDerived: true,
  storage() {
    const handlers = new Map<unknown, RouterHandler>();
    return {
      get: (method) => handlers.get(method) ?? null,
      set: (method, handler) => void handlers.set(method, handler),
    };
  },
  // A string when sent (Node joins a repeated x- header with commas), undefined when not.
  deriveConstraint: (request: IncomingMessage) => request.headers[METHOD_OVERRIDE_HEADER] as string,
  // Fastify requires one; the only values are the GET and DELETE this module sets itself.
  validate() {},
};

type ConstraintStrategy = NonNullable<NonNullable<FastifyServerOptions['routerOptions']>['constraints']>[string];
type RouterHandler = NonNullable<ReturnType<ReturnType<ConstraintStrategy['storage']>['get']>>;

interface RouteConfig {
  endpoint: Endpoint;
}

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
  const bodyLimit = options.bodyLimit ?? MAX_ARGUMENT_BYTES;
  const name = server.id.value;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const longestDeadline = Math.max(0, ...server.endpoints.map((e) => e.timeoutMs));
  // While closing, every answer closes its connection, so a keep-alive connection whose call
  // was in flight does not hold the close up for the keep-alive timeout.
  const access = accessLogger(name);
  const state: ServerState = { closing: false, access };
  const app = Fastify({
    loggerInstance: fastifyLogger(name),
    // Its request lines would be two per request, with headers; ours is one (onResponse below).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (raw) => requestIdOf(raw.headers[REQUEST_ID_HEADER]),
    bodyLimit,
    http: { headersTimeout, requestTimeout, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    requestTimeout,
    // Node's socket timeout is off: closeIdleConnections (below) does its work for less.
    connectionTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 72_000,
    // What Node's HTTP parser refuses (bad framing, a header too large, too slow) never reaches
    // a route: answered here, in the same { error, status } shape.
    clientErrorHandler: (err, socket) =>
      answerClientError(name, err, socket, { headersTimeout, requestTimeout }, access),
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { compile: true, constraints: { methodOverride } },
    // A URL that cannot be decoded, refused in our words rather than Fastify's. It is answered
    // before routing, outside `send`: its ID and access line are given here.
    frameworkErrors: (_err, request, reply) => {
      const url = shorten(request.url);
      reply.header(REQUEST_ID_HEADER, request.id);
      const message = `ApiServer ${name}: the request URL ${JSON.stringify(url)} is not valid`;
      sendUnlogged(state, reply, 400, errorBody(400, message));
      // The path only: a GET's query string is its argument.
      const path = shorten(request.url.split('?', 1)[0]);
      access.refused({ method: shorten(request.method), route: path, status: 400, requestId: request.id });
    },
  });

  // ServedRequest's: the endpoint reached (set by the route handler) and the server span's
  // context (by invokeEndpoint), for the access line.
  app.decorateRequest('traceContext', undefined);
  app.decorateRequest('endpoint', undefined);
  // The request's ID and its access line are given where every answer goes out (`send`), not
  // in onRequest and onResponse hooks: running them cost 8 % of a call's server time.

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

  const invokeOptions: InvokeOptions = {
    log: (message, err) => log.error(message, err),
    note: (message) => log.info(message),
    signal,
  };
  const checkToken = options.token === undefined ? undefined : tokenCheck(options.token);
  const methodsByRoute = new Map<string, string[]>();
  for (const endpoint of server.endpoints) {
    if (endpoint.route === HEALTH_ROUTE) throw errors.reservedRoute(name, HEALTH_ROUTE);
    methodsByRoute.set(endpoint.route, [...(methodsByRoute.get(endpoint.route) ?? []), endpoint.method]);
    const config: RouteConfig = { endpoint };
    const inQuery = argumentInQuery(endpoint.method);
    app.route({
      method: endpoint.method,
      url: endpoint.route,
      config,
      handler: endpointHandler(endpoint, state, invokeOptions, checkToken, inQuery ? 'query' : 'body'),
    });
    if (inQuery)
      app.route({
        method: 'POST',
        url: endpoint.route,
        constraints: { methodOverride: endpoint.method },
        config,
        handler: endpointHandler(endpoint, state, invokeOptions, checkToken, 'override'),
      });
  }

  const health = JSON.stringify({ status: 'ok', id: name });
  app.get(HEALTH_ROUTE, (_request, reply) => send(state, reply, 200, health));
  if (server.public) {
    // Anyone may call a public API, so anyone may read how: the document the build also writes.
    const document = JSON.stringify(openApiDocument(server, { version: options.openApiVersion }));
    app.get(OPENAPI_ROUTE, (_request, reply) => send(state, reply, 200, document));
  }

  app.setNotFoundHandler((request, reply) => {
    const path = shorten(request.url.split('?', 1)[0]);
    const allowed = methodsByRoute.get(path);
    const override = request.headers[METHOD_OVERRIDE_HEADER];
    if (override !== undefined) {
      const asked = `${shorten(request.method)} with ${METHOD_OVERRIDE_HEADER}: ${shorten(String(override))}`;
      return sendError(
        state,
        reply,
        allowed ? 405 : 404,
        `ApiServer ${name} has no endpoint for ${asked} on ${path}; the header is taken only on a POST to a GET or DELETE endpoint, naming its method`,
      );
    }
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
    // The path only: a GET's query string is its argument, the caller's data.
    log.error(`ApiServer ${name} ${request.method} ${shorten(request.url.split('?', 1)[0])}: request failed`, err);
    return sendError(state, reply, 500, `Internal error in ${name}; the server's log has the details`);
  });

  // The idle limit must not cut a handler short of its own deadline.
  const stopIdleSweeps = closeIdleConnections(
    app.server,
    options.connectionTimeoutMs ?? Math.max(120_000, longestDeadline + 10_000),
  );

  // Each connection holds a socket and a file descriptor: past the limit Node closes new ones
  // at once, before they cost anything more.
  app.server.maxConnections = options.maxConnections ?? 1_000;

  // Node hands CONNECT (a proxy tunnel request) to a 'connect' listener and, with none, drops
  // the connection unanswered; it is answered like any other method no endpoint takes.
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    const body = errorBody(405, `ApiServer ${name} is not a proxy: it does not take CONNECT`);
    const requestId = requestIdOf(request.headers[REQUEST_ID_HEADER]);
    socket.on('error', () => {}); // the client may already be gone; nothing to tell it then
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${REQUEST_ID_HEADER}: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
    access.refused({ method: 'CONNECT', route: shorten(request.url ?? ''), status: 405, requestId });
  });

  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    stopIdleSweeps();
    await app.close();
    throw errors.listenFailed(name, `${host}:${options.port}`, err);
  }
  const port = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= ((state.closing = true), stopIdleSweeps(), app.close()).then(
      () => signal.removeEventListener('abort', close),
      (err: unknown) => log.error(`ApiServer ${name}: closing the HTTP server failed`, err),
    ));
  signal.addEventListener('abort', close, { once: true });
  if (signal.aborted) void close();
  return { url: `http://${host}:${port}`, port, close };
}

interface ServerState {
  closing: boolean;
  readonly access: AccessLogger;
}

type TokenCheck = (authorization: string | undefined) => boolean;

/** The scheme and the spaces after it (RFC 9110, 11.4: one or more). */
const SCHEME = /^bearer +/i;

/**
 * Compares in constant time, so the answer's timing tells nothing about the token. The scheme
 * is case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` are `Bearer`.
 */
function tokenCheck(token: string): TokenCheck {
  const expected = Buffer.from(token, 'latin1');
  return (authorization) => {
    if (authorization === undefined) return false;
    let given: string;
    // The usual spelling, without a regular expression (a call's worth of time counts here).
    if (authorization.startsWith('Bearer ') && authorization.charCodeAt(7) !== 0x20) given = authorization.slice(7);
    else {
      const scheme = SCHEME.exec(authorization);
      if (!scheme) return false;
      given = authorization.slice(scheme[0].length);
    }
    return given.length === expected.length && timingSafeEqual(Buffer.from(given, 'latin1'), expected);
  };
}

/**
 * Where a request carries the argument: the query string (GET, DELETE), the body (the other
 * methods), or the body of a POST standing for a GET or DELETE (METHOD_OVERRIDE_HEADER).
 */
type ArgumentSource = 'query' | 'body' | 'override';

function endpointHandler(
  endpoint: Endpoint,
  state: ServerState,
  invokeOptions: InvokeOptions,
  checkToken: TokenCheck | undefined,
  source: ArgumentSource,
) {
  const name = endpoint.server.id.value;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const served = request as FastifyRequest & ServedRequest;
    served.endpoint = endpoint;
    if (checkToken && !checkToken(request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer');
      const said = request.headers.authorization === undefined ? 'none was sent' : 'the one sent is wrong';
      return sendError(state, reply, 401, `ApiServer ${name} takes calls only with its bearer token; ${said}`);
    }
    const arg =
      source === 'query'
        ? queryArgument(request.query as Record<string, unknown>)
        : source === 'body'
          ? request.body
          : overrideArgument(request);
    // The call continues the caller's trace, if it sent one (W3C traceparent). Not a public
    // API's: anyone may call it, and would choose the trace, its sampling and its baggage.
    const caller = endpoint.server.public ? ROOT : propagation.extract(ROOT, request.headers);
    const result = await invokeEndpoint(endpoint, arg, invokeOptions, served, caller);
    return send(state, reply, result.status, result.body);
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

function overrideArgument(request: FastifyRequest): unknown {
  if ((request.query as Record<string, unknown>)[ARG_PARAM] !== undefined)
    throw new RequestError(
      400,
      `a request with ${METHOD_OVERRIDE_HEADER} carries its argument in the body, not in the query parameter "${ARG_PARAM}"`,
    );
  return request.body;
}

function bodyError(err: unknown): RequestError {
  return inputError(err, 'the request body');
}

function inputError(err: unknown, what: string): RequestError {
  const problem = err instanceof JsonInputError ? err.problem : 'syntax';
  if (problem === 'forbiddenKey')
    return new RequestError(400, `${what} has a "__proto__" or "constructor.prototype" key, which is not accepted`);
  if (problem === 'outOfRange')
    return new RequestError(
      400,
      `${what} holds a number too large for a double (such as 1e400), which is not accepted`,
    );
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
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const endpoint = (request.routeOptions.config as Partial<RouteConfig>).endpoint;
      return {
        status: 413,
        message: endpoint
          ? argumentTooLargeProblem(endpoint, bodyLimit)
          : `the request body is larger than the limit of ${bodyLimit} bytes`,
      };
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'the request body does not match its content-length' };
  }
  // Other refusals Fastify raises before routing (a bad URL, an aborted body): its status, our words.
  const status = err.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && err.code?.startsWith('FST_')) {
    return { status, message: `the request was refused (${STATUS_CODES[status] ?? status})` };
  }
  return undefined;
}

/**
 * Every answer a route, the not-found handler or the error handler gives goes out here: with
 * the request's ID, then its access line (the answer is written by then: Fastify sends a string
 * at once).
 */
function send(state: ServerState, reply: FastifyReply, status: number, body: string | undefined): FastifyReply {
  reply.header(REQUEST_ID_HEADER, reply.request.id);
  sendUnlogged(state, reply, status, body);
  state.access.answered(reply.request as FastifyRequest & ServedRequest, reply);
  return reply;
}

function sendUnlogged(state: ServerState, reply: FastifyReply, status: number, body: string | undefined): FastifyReply {
  if (state.closing) reply.header('connection', 'close');
  reply.code(status);
  return body === undefined ? reply.send() : reply.header('content-type', JSON_CONTENT_TYPE).send(body);
}

function sendError(state: ServerState, reply: FastifyReply, status: number, message: string): FastifyReply {
  return send(state, reply, status, errorBody(status, message));
}

/** Node's own choice of status for what its parser refuses; 400 for the rest. */
const clientErrorStatus: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

function answerClientError(
  name: string,
  err: Error & { code?: string },
  socket: Socket,
  timeouts: { headersTimeout: number; requestTimeout: number },
  access: AccessLogger,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = clientErrorStatus[err.code ?? ''] ?? 400;
  const problem =
    status === 431
      ? 'the request headers (with the URL) are larger than the server takes'
      : status === 413
        ? 'the request body has chunk extensions larger than the server takes'
        : status === 408
          ? `the request did not arrive in time (its headers are due within ${timeouts.headersTimeout} ms, the whole request within ${timeouts.requestTimeout} ms)`
          : 'the request is not valid HTTP/1.1 (its framing or a header is malformed)';
  // As Node does: no answer once a response on this connection has begun, which it would corrupt.
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (!socket.writable || started) {
    socket.destroy();
    return;
  }
  const body = errorBody(status, `ApiServer ${name}: ${problem}`);
  // The request could not be read, so it has no ID of its own: one is made, to find the line by.
  const requestId = requestIdOf(undefined);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${REQUEST_ID_HEADER}: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
  access.refused({ status, requestId, problem });
}

/**
 * Fastify's own lines (a warning about a reply, an error in a hook): its warnings and errors,
 * as the root logger writes them. Its info lines only repeat ours (the addresses it listens on,
 * a refusal while closing), so it logs from warn up.
 */
function fastifyLogger(name: string): FastifyBaseLogger {
  const root = rootLogger();
  // Bound here: Fastify writes outside any log scope, so the mixin adds no second `component`.
  const logger = root.child({ component: name }, root.isLevelEnabled('warn') ? { level: 'warn' } : {});
  // Fastify asks for a child per request, to bind the request's ID (which our lines get from the
  // log scope): this logger is its own child. Not childLoggerFactory, whose result Fastify
  // checks at every request.
  return Object.assign(Object.create(logger) as typeof logger, {
    child: function (this: typeof logger) {
      return this;
    },
  });
}
