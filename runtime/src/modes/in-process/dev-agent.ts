/**
 * The app's side of `npm run dev` in one process (modes/dev/ is the other side): every persona
 * runs here as `npm start` runs them, and then the process stays, for the dashboard, until the
 * dev loop stops it (at a change, or at Ctrl-C). Over the IPC channel it tells the dev loop the
 * tree and what becomes of each persona, and answers the dashboard's calls of endpoints and
 * reads of Stores (dev-protocol.ts).
 *
 * `console.log` and its kin are written through the log here, so that a persona's console
 * lines reach the dashboard as its lines (with its ID and trace), as pino's do.
 */
import { format } from 'node:util';
import type { App } from '../../core/app.ts';
import type { Logger } from '../../core/logger.ts';
import { messageOf } from '../../core/errors.ts';
import { log } from '../../core/telemetry/log.ts';
import { inSpan, SpanKind } from '../../core/telemetry/tracing.ts';
import { ATTR_HTTP_RESPONSE_STATUS_CODE } from '../../core/telemetry/attributes.ts';
import { ApiServer } from '../../components/api/server.ts';
import { answerDevLoop, startedMessage, storePage, tellDevLoop } from '../dev-answers.ts';
import { HttpError } from '../../components/api/http-error.ts';
import { runPersonas, type PersonaEvent } from '../run-personas.ts';
import type { DevQuery } from '../dev-protocol.ts';
import type { CallRequest, CallResult, IndexPage, PersonaState, StorePage } from '../dev-dashboard-api.ts';
import { InProcessPlatform } from './in-process.ts';

/** Runs every persona of `app` in this process for `npm run dev`; resolves to 0 (or 1) once told to stop. */
export async function runInProcessForDev(app: App, options: { valueFile?: string; log: Logger }): Promise<number> {
  const send = tellDevLoop;
  writeConsoleToLog();
  // Listened for from the start: a stop asked for while a task runs must still end the wait below.
  const stopped = new Promise<void>((resolve) => {
    process.once('disconnect', resolve);
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const platform = new InProcessPlatform(options);
  app.enter('runtime', platform);
  send(startedMessage(app));
  answerDevLoop((query) => answer(app, platform, query));
  try {
    const code = await runPersonas(app, app.personas, options.log, {
      onEvent: (persona, event) =>
        send({ type: 'persona', id: persona.id.value, ...personaState(persona.lifecycle, event) }),
    });
    await stopped;
    return code;
  } finally {
    await platform.close();
    // The channel would keep this process alive: without it, it ends once its last spans are sent.
    if (process.connected) process.disconnect();
  }
}

function personaState(
  lifecycle: string,
  event: PersonaEvent,
): { state: PersonaState; error?: string; exitCode?: number } {
  switch (event.state) {
    case 'starting':
      return { state: 'starting' };
    case 'started':
      return { state: lifecycle === 'server' ? 'healthy' : 'running' };
    case 'finished':
      return { state: 'finished', exitCode: 0 };
    case 'failed':
      return { state: 'failed', error: describe(event.error), exitCode: 1 };
  }
}

/** An error as the terminal would show it: its message, and its cause's stack (or message). */
function describe(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause === undefined) return messageOf(err);
  const stack = (cause as { stack?: unknown } | null)?.stack;
  return `${messageOf(err)}\n${typeof stack === 'string' ? stack : messageOf(cause)}`;
}

async function answer(
  app: App,
  platform: InProcessPlatform,
  query: DevQuery,
): Promise<CallResult | StorePage | IndexPage> {
  if (query.op === 'call') return call(app, platform, query.call);
  return storePage(app, (store) => platform.storeBackend(store), query);
}

/**
 * Calls an endpoint as an outside caller would: the argument as JSON text, checked by the
 * endpoint's schema, in a CLIENT span of its own (the trace the dashboard links to).
 */
async function call(app: App, platform: InProcessPlatform, request: CallRequest): Promise<CallResult> {
  const server = app.find(request.server);
  const endpoint = ApiServer.isApiServer(server)
    ? server.endpoints.find((e) => e.method === request.method && e.route === request.route)
    : undefined;
  if (!endpoint) throw new HttpError(404, `No endpoint ${request.method} ${request.route} on ${request.server}`);
  const began = performance.now();
  if (request.arg !== undefined) {
    try {
      JSON.parse(request.arg);
    } catch (err) {
      return { status: 400, error: `The argument is not JSON: ${messageOf(err)}`, durationMs: 0 };
    }
  }
  let traceId: string | undefined;
  const result = await inSpan(
    endpoint.telemetry.name,
    SpanKind.CLIENT,
    endpoint.server.id.value,
    endpoint.telemetry.attributes,
    async (span) => {
      if (span.isRecording()) traceId = span.spanContext().traceId;
      const answered = await platform.answer(endpoint, request.arg);
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, answered.status);
      return answered;
    },
  );
  const durationMs = performance.now() - began;
  // JSON text of the runtime's own making (invokeEndpoint), as the HTTP client would read it.
  const body: unknown = result.body === undefined || result.body === '' ? undefined : JSON.parse(result.body);
  const trace = traceId === undefined ? {} : { traceId };
  if (result.status >= 400) {
    const error = (body as { error?: unknown } | undefined)?.error;
    return {
      status: result.status,
      error: typeof error === 'string' ? error : `answered ${result.status}`,
      durationMs,
      ...trace,
    };
  }
  return { status: result.status, ...(body === undefined ? {} : { answer: body }), durationMs, ...trace };
}

/** `console.log` and its kin, through the log (each at its level), with the context of the caller. */
function writeConsoleToLog(): void {
  const levels = { debug: 'debug', log: 'info', info: 'info', warn: 'warn', error: 'error' } as const;
  for (const [method, level] of Object.entries(levels))
    (console as unknown as Record<string, (...args: unknown[]) => void>)[method] = (...args) =>
      log[level](format(...args));
}
