/**
 * What the dev dashboard's page (runtime/dashboard/) and its server (dev/dashboard-server.ts) say to
 * each other: JSON over HTTP on 127.0.0.1, and one server-sent event stream.
 *
 * Every /api/ route needs the session's token, as `Authorization: Bearer <token>` or (for
 * EventSource, which cannot set headers) `?token=<token>`; without it the answer is 401 and
 * nothing else. The page finds the token in its own URL (`/?token=…`, the address `npm run dev`
 * prints). The page and its assets (`/`, `/assets/…`) hold no data and need no token.
 *
 *   GET  /api/overview                      Overview
 *   GET  /api/events?token=…                 server-sent events: `overview` (Overview), `log` (LogLine),
 *                                            `trace` (TraceSummary: a trace that got new spans)
 *   GET  /api/logs?persona=&level=&q=&limit= { lines: LogLine[] }, oldest first; `level` is the lowest shown
 *   GET  /api/traces                         { traces: TraceSummary[] }, newest first
 *   GET  /api/traces/:traceId                TraceView (404 when unknown)
 *   GET  /api/endpoints                      { endpoints: EndpointView[] }
 *   POST /api/call                           CallRequest → CallResult (the endpoint's own status in `status`)
 *   GET  /api/stores                         { stores: StoreView[] }
 *   GET  /api/stores/:store/entries?after=&limit=           StorePage
 *   GET  /api/stores/:store/indexes/:index?after=&limit=    IndexPage
 *   POST /v1/traces                          OTLP/HTTP JSON, from the app's processes (token in the header)
 *
 * Errors of the dashboard itself are `{ error: string }` with a 4xx or 5xx status.
 */

export type AppState = 'starting' | 'running' | 'failed' | 'exited' | 'restarting';

export type PersonaState = 'starting' | 'healthy' | 'running' | 'failed' | 'finished' | 'stopped';

export interface PersonaView {
  readonly id: string;
  /** ApiServer, DeployTask, Worker, … */
  readonly kind: string;
  /** `healthy`: a server answering; `running`: a task or worker at work; `finished`: returned. */
  readonly state: PersonaState;
  /** Why it failed. */
  readonly error?: string;
  /** A finished task's or worker's exit code (0), or a failed process's. */
  readonly exitCode?: number;
  /** How many times it was started again since `npm run dev` began (each app restart counts). */
  readonly restarts: number;
}

export interface DiagramView {
  /** `key`: the node's ID in the Mermaid text (for a `class` line that colours it). */
  readonly nodes: readonly { id: string; key: string; kind: string; role: 'persona' | 'store' | 'api' | 'topic' }[];
  readonly edges: readonly { from: string; to: string; kind: string }[];
}

export interface Overview {
  /** The app's root ID (my-app), once its startup ran. */
  readonly app?: string;
  readonly mode: 'one-process' | 'local';
  /** 1 for the first start, +1 for each restart. */
  readonly generation: number;
  readonly state: AppState;
  /** Why the app failed (its startup threw, its process exited): the error, as the terminal shows it. */
  readonly error?: string;
  /** The files whose change caused the last restart, relative to the app's folder. */
  readonly changed?: readonly string[];
  readonly personas: readonly PersonaView[];
  /** The same data as build/architecture.md. */
  readonly diagram?: DiagramView;
  /** architecture.md's Mermaid flowchart text. */
  readonly mermaid?: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogLine {
  /** Increasing: the order lines arrived in. */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly level: LogLevel;
  /** The persona that wrote it; absent for the dev loop's own lines and the app's startup. */
  readonly persona?: string;
  readonly component?: string;
  readonly msg: string;
  readonly traceId?: string;
  readonly spanId?: string;
  /** Every other field of the line (endpoint, requestId, status, err, …). */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface TraceSummary {
  readonly traceId: string;
  /** The root span's name, or the earliest span's while the root has not arrived. */
  readonly name: string;
  /** The root span's service.name: the persona that began it. */
  readonly service: string;
  /** Milliseconds since the epoch. */
  readonly start: number;
  readonly durationMs: number;
  readonly spanCount: number;
  readonly error: boolean;
}

export interface SpanView {
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** The persona that made it (its infra.persona.id, else its service.name). */
  readonly service: string;
  /** Milliseconds since the epoch, fractional. */
  readonly start: number;
  readonly end: number;
  readonly status: 'unset' | 'ok' | 'error';
  readonly statusMessage?: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly { name: string; time: number; attributes: Readonly<Record<string, unknown>> }[];
}

export interface TraceView {
  readonly traceId: string;
  /** Ordered by start time. */
  readonly spans: readonly SpanView[];
}

export interface EndpointView {
  readonly server: string;
  readonly method: string;
  readonly route: string;
  /** The input's JSON Schema (TypeBox), when the endpoint declares one. */
  readonly input?: unknown;
}

export interface CallRequest {
  readonly server: string;
  readonly method: string;
  readonly route: string;
  /** The argument as JSON text; absent: called with no argument. */
  readonly arg?: string;
}

export interface CallResult {
  /** The endpoint's answer's status: 200, 204, 400, 401, 404, 500, 503… */
  readonly status: number;
  /** The answer's value (200), absent for 204 and errors. */
  readonly answer?: unknown;
  /** The error's message, for a status of 400 or more. */
  readonly error?: string;
  /** The trace of the call, when it was traced. */
  readonly traceId?: string;
  readonly durationMs: number;
}

export interface StoreView {
  readonly id: string;
  readonly indexes: readonly string[];
}

export interface StorePage {
  readonly entries: readonly (readonly [key: string, value: unknown])[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

export interface IndexPage {
  readonly entries: readonly { indexKey: string; key: string; inlineValue?: unknown }[];
  readonly next?: string;
}
