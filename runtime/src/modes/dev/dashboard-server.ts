/**
 * The dev dashboard's HTTP server (Fastify), on 127.0.0.1 only: the page and its assets, the
 * JSON routes of ../dev-dashboard-api.ts, the live event stream, and the OTLP/HTTP receiver the app's
 * process exports its spans to.
 *
 * Who may use it: whoever has the session's token, which `npm run dev` prints in the address to
 * open (as Jupyter does). Other local users can reach the port but not the data; a web page in
 * the developer's browser can send requests but without the token gets 401, and cannot read
 * answers (no CORS headers). A Host header other than this server's own address is refused, so a
 * DNS-rebinding page that makes its own name point at 127.0.0.1 is refused too.
 *
 * The app's processes send their spans with another token, which opens the OTLP receiver and
 * nothing else: it is in every persona's environment, and the dashboard's would let a persona
 * call, through the API explorer, an API the access rules keep it from.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { messageOf } from '../../core/errors.ts';
import { HttpError } from '../../components/api/http-error.ts';
import type { CallRequest, LogLevel } from '../dev-dashboard-api.ts';
import { isLogLevel } from './history.ts';
import type { DevSession, SessionEvent } from './session.ts';

/** The page's own files: runtime/dashboard/. */
const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dashboard');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** A file served as it is, read on its first request. */
interface Asset {
  readonly path: string;
  readonly type: string;
  content?: Buffer;
}

/** Served as they are: the page, and the two libraries it loads (optional dependencies of the runtime). */
function assets(): Map<string, Asset> {
  const files = new Map<string, Asset>();
  for (const name of readdirSync(PAGE_DIR)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))];
    if (type && /^[\w.-]+$/.test(name)) files.set(name, { path: join(PAGE_DIR, name), type });
  }
  // Resolved by their export maps: Preact's, its hooks' and htm's ES module builds (index.html's
  // import map names them), Mermaid's one-file bundle.
  const resolved = (specifier: string) => fileURLToPath(import.meta.resolve(specifier));
  const js = CONTENT_TYPES['.js']!;
  files.set('preact.js', { path: resolved('preact'), type: js });
  files.set('preact-hooks.js', { path: resolved('preact/hooks'), type: js });
  files.set('htm.js', { path: resolved('htm'), type: js });
  files.set('mermaid.min.js', { path: resolved('mermaid/dist/mermaid.min.js'), type: js });
  return files;
}

/** The page's one inline script, its import map, as the content security policy allows it: by its hash. */
function importMapHash(): string {
  const page = readFileSync(join(PAGE_DIR, 'index.html'), 'utf8');
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
  return `'sha256-${createHash('sha256').update(map).digest('base64')}'`;
}

function securityHeaders(): Record<string, string> {
  return {
    // Mermaid sets styles inline in the SVG it draws; no script but this origin's and the import map.
    'content-security-policy':
      `default-src 'self'; script-src 'self' ${importMapHash()}; style-src 'self' 'unsafe-inline'; ` +
      "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    // The address may hold the token: never sent on to another site.
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

/** The page and its assets: no data, no token. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/assets/:name']);
/** The OTLP receiver: the app's token, not the dashboard's. */
const INGEST_ROUTES: ReadonlySet<string> = new Set(['/v1/traces', '/v1/metrics']);

/** How much a stream may hold unread before it is closed (the page reconnects and fetches anew). */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startDashboard(options: {
  session: DevSession;
  /** The dashboard's: every /api/ route. */
  token: string;
  /** The app's: the OTLP receiver (/v1/) only. */
  ingestToken: string;
  port?: number;
}): Promise<{ server: FastifyInstance; port: number }> {
  const { session } = options;
  const files = assets();
  const security = securityHeaders();
  // Closing ends the event streams too (they never go idle), so Ctrl-C does not wait on an open tab.
  const server = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true });
  let hosts = new Set<string>();

  const tokenOf = (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) return header.slice(7);
    const query = (request.query as { token?: unknown }).token;
    return typeof query === 'string' ? query : undefined;
  };
  const dashboardToken = Buffer.from(options.token);
  const ingestToken = Buffer.from(options.ingestToken);
  const holds = (request: FastifyRequest, expected: Buffer) => {
    const given = Buffer.from(tokenOf(request) ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  server.addHook('onRequest', async (request, reply) => {
    reply.headers(security);
    if (!hosts.has(request.headers.host ?? '')) {
      return reply.code(403).send({ error: `Refused: the dashboard answers only as ${[...hosts][0]}` });
    }
    // By the route matched (the router decodes the path: `/%61pi/logs` is /api/logs), and
    // closed by default: only the page and its assets are open, an unknown path needs a token.
    const route = request.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    if (route !== undefined && INGEST_ROUTES.has(route)) {
      if (!holds(request, ingestToken))
        return reply.code(401).send({ error: "Spans are taken from the app's processes only" });
      return;
    }
    if (!holds(request, dashboardToken))
      return reply
        .code(401)
        .send({ error: 'The dashboard needs its access token: open the address `npm run dev` printed' });
  });
  server.setErrorHandler((err: { statusCode?: number; status?: number }, _request, reply) => {
    const status = err.statusCode ?? err.status ?? 500;
    void reply.code(status >= 400 && status < 600 ? status : 500).send({ error: messageOf(err) });
  });

  const sendFile = (reply: FastifyReply, name: string) => {
    const file = files.get(name);
    if (!file) return reply.code(404).send({ error: `No asset ${name}` });
    // Read once: the page and its libraries (Mermaid's is 5.5 MB) do not change while it runs.
    file.content ??= readFileSync(file.path);
    return reply.type(file.type).send(file.content);
  };
  server.get('/', (_request, reply) => sendFile(reply, 'index.html'));
  server.get<{ Params: { name: string } }>('/assets/:name', (request, reply) => sendFile(reply, request.params.name));

  server.get('/api/overview', async () => session.overview());

  server.get('/api/events', (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...security,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const write = (event: SessionEvent) => {
      // A page that stopped reading (a frozen tab) is let go rather than buffered for without end.
      if (raw.writableLength > MAX_UNREAD_BYTES) raw.destroy();
      else raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    };
    write({ type: 'overview', data: session.overview() });
    const unsubscribe = session.subscribe(write);
    // A comment now and then, so that proxies and the browser keep the stream open.
    const heartbeat = setInterval(() => raw.write(': \n\n'), 15_000);
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  server.get<{ Querystring: { persona?: string; level?: string; q?: string; limit?: string } }>(
    '/api/logs',
    async (request, reply) => {
      const { persona, level, q, limit } = request.query;
      if (level !== undefined && level !== '' && !isLogLevel(level))
        return reply
          .code(400)
          .send({ error: `level must be one of trace, debug, info, warn, error, fatal, not ${level}` });
      const lines = session.logs.find({
        ...(persona ? { persona } : {}),
        ...(level ? { level: level as LogLevel } : {}),
        ...(q ? { q } : {}),
        limit: boundedLimit(limit, 1000, 10_000),
      });
      return { lines };
    },
  );

  server.get('/api/traces', async () => ({ traces: session.traces.summaries() }));
  server.get<{ Params: { traceId: string } }>('/api/traces/:traceId', async (request, reply) => {
    const trace = session.traces.get(request.params.traceId.toLowerCase());
    return (
      trace ??
      reply.code(404).send({ error: `No trace ${request.params.traceId} (the dashboard keeps the latest 500)` })
    );
  });

  server.get('/api/endpoints', async () => ({ endpoints: session.endpoints() }));
  server.post<{ Body: CallRequest }>('/api/call', async (request, reply) => {
    const body = request.body as Partial<CallRequest> | undefined;
    if (typeof body?.server !== 'string' || typeof body.method !== 'string' || typeof body.route !== 'string')
      return reply
        .code(400)
        .send({ error: 'A call needs server, method and route (strings), and may have arg (JSON text)' });
    if (body.arg !== undefined && typeof body.arg !== 'string')
      return reply.code(400).send({ error: 'arg is the argument as JSON text (a string), e.g. "\\"1\\""' });
    return session.call({
      server: body.server,
      method: body.method,
      route: body.route,
      ...(body.arg === undefined ? {} : { arg: body.arg }),
    });
  });

  server.get('/api/stores', async () => ({ stores: session.stores() }));
  server.get<{ Params: { store: string }; Querystring: { after?: string; limit?: string } }>(
    '/api/stores/:store/entries',
    async (request) =>
      session.entries(request.params.store, request.query.after, boundedLimit(request.query.limit, 50, 500)),
  );
  server.get<{ Params: { store: string; index: string }; Querystring: { after?: string; limit?: string } }>(
    '/api/stores/:store/indexes/:index',
    async (request) =>
      session.index(
        request.params.store,
        request.params.index,
        request.query.after,
        boundedLimit(request.query.limit, 50, 500),
      ),
  );

  // The app's spans. JSON only: the dev loop starts the app with OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
  server.addContentTypeParser('application/x-protobuf', (_request, _payload, done) =>
    done(new HttpError(415, 'This receiver takes OTLP/HTTP JSON: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json')),
  );
  server.post('/v1/traces', async (request) => {
    session.addSpans(request.body);
    return {};
  });
  server.post('/v1/metrics', async () => ({}));

  await server.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const port = (server.server.address() as { port: number }).port;
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return { server, port };
}

function boundedLimit(text: string | undefined, fallback: number, max: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback;
}
