/**
 * The local runner's side of `npm run dev -- --local` (modes/dev/ is the other side): it tells
 * the dev loop the tree and what becomes of each persona's process, and answers the dashboard
 * as an outside caller would: an endpoint call over HTTP with the server's token (and a trace
 * context of its own, so the dashboard can link to the call's trace), a page of a Store read
 * from its local database with the Store's own credentials.
 */
import { randomBytes } from 'node:crypto';
import { messageOf } from '../../core/errors.ts';
import type { StoreBackend } from '../../components/store/backend.ts';
import type { Store } from '../../components/store/store.ts';
import { createPostgresStoreBackend } from '../../components/store/postgres.ts';
import { argumentInQuery, type HttpMethod } from '../../components/api/endpoint.ts';
import { ARG_PARAM, MAX_QUERY_LENGTH, METHOD_OVERRIDE_HEADER } from '../../components/api/http-wire.ts';
import type { DeploymentPlan, PersonaPlan, StorePlan } from '../../plan/plan.ts';
import { answerDevLoop, startedMessage, storePage, tellDevLoop } from '../dev-answers.ts';
import { HttpError } from '../../components/api/http-error.ts';
import type { DevQuery } from '../dev-protocol.ts';
import type { CallRequest, CallResult, IndexPage, StorePage } from '../dev-dashboard-api.ts';

export interface LocalDevAgent {
  starting(persona: PersonaPlan): void;
  /** A server answers its health route; a task or a worker runs. */
  up(persona: PersonaPlan): void;
  exited(persona: PersonaPlan, code: number, lastErrors: readonly string[]): void;
  /** The runner stops every process: their ends are not failures. */
  stopping(): void;
  close(): Promise<void>;
}

/** `stop`: the runner's own; aborted when the dev loop goes away (its channel closes), as at Ctrl-C. */
export function localDevAgent(
  plan: DeploymentPlan,
  storeUrls: ReadonlyMap<StorePlan, string>,
  stop: AbortController,
): LocalDevAgent {
  const send = tellDevLoop;
  const backends = new Map<string, StoreBackend>();
  let stopping = false;
  send(startedMessage(plan.app));

  const backendOf = (store: Store<any>) => {
    let backend = backends.get(store.id.value);
    if (!backend) {
      const url = [...storeUrls].find(([p]) => p.store === store)?.[1];
      if (url === undefined) throw new HttpError(404, `Store ${store.id.value} has no local database in this run`);
      backends.set(store.id.value, (backend = createPostgresStoreBackend(store, url)));
    }
    return backend;
  };
  const answer = (query: DevQuery): Promise<CallResult | StorePage | IndexPage> =>
    query.op === 'call' ? call(plan, query.call) : storePage(plan.app, backendOf, query);
  const stopAnswering = answerDevLoop(answer);
  // The dev loop killed (its process group is not: the runner was started in one of its own).
  const orphaned = () => stop.abort();
  process.once('disconnect', orphaned);

  return {
    starting: (persona) => send({ type: 'persona', id: persona.persona.id.value, state: 'starting' }),
    up: (persona) =>
      send({
        type: 'persona',
        id: persona.persona.id.value,
        state: persona.persona.lifecycle === 'server' ? 'healthy' : 'running',
      }),
    exited(persona, code, lastErrors) {
      if (stopping) return;
      const id = persona.persona.id.value;
      // A task or worker that returned has finished; a server never should.
      if (code === 0 && persona.persona.lifecycle !== 'server')
        send({ type: 'persona', id, state: 'finished', exitCode: 0 });
      else
        send({
          type: 'persona',
          id,
          state: 'failed',
          exitCode: code,
          error: lastErrors.map(errorText).join('\n') || `Its process exited with code ${code}`,
        });
    },
    stopping: () => (stopping = true),
    async close() {
      stopAnswering();
      process.off('disconnect', orphaned);
      await Promise.all([...backends.values()].map((b) => b.close()));
      if (process.connected) process.disconnect();
    },
  };
}

/** A standard error line of a persona: a pino line's message and error stack, or the text. */
function errorText(line: string): string {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; err?: { stack?: unknown } };
    if (typeof parsed.msg === 'string')
      return typeof parsed.err?.stack === 'string' ? `${parsed.msg}\n${parsed.err.stack}` : parsed.msg;
  } catch {
    // Plain text.
  }
  return line;
}

/**
 * Calls the endpoint over HTTP as the wire format says (http-wire.ts), with the server's token,
 * and a sampled trace context of its own: the server's span continues it, so the call's trace
 * can be opened by its ID.
 */
async function call(plan: DeploymentPlan, request: CallRequest): Promise<CallResult> {
  const api = plan.apis.find((a) => a.server.id.value === request.server);
  const endpoint = api?.server.endpoints.find((e) => e.method === request.method && e.route === request.route);
  if (!api || !endpoint)
    throw new HttpError(404, `No endpoint ${request.method} ${request.route} on ${request.server}`);
  const traceId = randomBytes(16).toString('hex');
  const headers: Record<string, string> = { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
  if (api.token) headers.authorization = `Bearer ${api.token.value}`;
  let url = `http://127.0.0.1:${api.port}${endpoint.route}`;
  let method: string = endpoint.method;
  let body: string | undefined;
  if (request.arg !== undefined) {
    const query = `${url}?${ARG_PARAM}=${encodeURIComponent(request.arg)}`;
    if (argumentInQuery(endpoint.method as HttpMethod) && query.length <= MAX_QUERY_LENGTH) url = query;
    else {
      if (argumentInQuery(endpoint.method as HttpMethod)) {
        headers[METHOD_OVERRIDE_HEADER] = endpoint.method;
        method = 'POST';
      }
      body = request.arg;
      headers['content-type'] = 'application/json';
    }
  }
  const began = performance.now();
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(endpoint.timeoutMs + 5_000) });
  } catch (err) {
    throw new HttpError(
      502,
      `${request.server} did not answer at ${url}: ${messageOf((err as { cause?: unknown }).cause ?? err)}`,
    );
  }
  const text = await response.text();
  const durationMs = performance.now() - began;
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (response.status >= 400) {
    const error = (parsed as { error?: unknown } | undefined)?.error;
    return { status: response.status, error: typeof error === 'string' ? error : text, durationMs, traceId };
  }
  return { status: response.status, ...(parsed === undefined ? {} : { answer: parsed }), durationMs, traceId };
}
