/**
 * One `npm run dev` session: the app's process, started again after each burst of changes to
 * its sources; what the dashboard shows of it (the overview: the tree, each persona's state,
 * the app's own); its log lines and traces, kept across restarts; and the dashboard's questions
 * to the app (an endpoint call, a page of a Store), handed to its process.
 */
import type { DevQuery, PersonaMessage, StartedMessage } from '../dev-protocol.ts';
import type {
  AppState,
  CallRequest,
  CallResult,
  EndpointView,
  IndexPage,
  LogLine,
  Overview,
  PersonaView,
  StorePage,
  StoreView,
} from '../dev-dashboard-api.ts';
import { HttpError } from '../../components/api/http-error.ts';
import { AppProcess } from './app-process.ts';
import { LogHistory, TraceHistory } from './history.ts';
import { spansOfExport } from './otlp-json.ts';

export type SessionEvent =
  | { readonly type: 'overview'; readonly data: Overview }
  | { readonly type: 'log'; readonly data: LogLine }
  | { readonly type: 'trace'; readonly data: unknown };

export interface SessionOptions {
  /** The command and arguments that run the app (Node on its entry module). */
  readonly command: string;
  readonly args: readonly string[];
  /** The app's folder: its process's working directory. */
  readonly cwd: string;
  /** The app process's environment (the dev agent's variable and the telemetry settings included). */
  readonly env: NodeJS.ProcessEnv;
  readonly mode: 'one-process' | 'local';
  /** Run to its end before the app at each start (the build, for local processes); a failure is the app's. */
  readonly before?: { readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv };
  /** Where the session's lines (and the app's, readable) are printed. */
  readonly print: (line: string) => void;
  /** How long the app may take to stop at a restart before it is killed. */
  readonly stopGraceMs?: number;
}

/** How many of a failed start's error lines its overview keeps. */
const ERROR_LINES = 20;

export class DevSession {
  readonly logs = new LogHistory();
  readonly traces = new TraceHistory();
  readonly #options: SessionOptions;
  readonly #listeners = new Set<(event: SessionEvent) => void>();
  readonly #starts = new Map<string, number>();
  #process: AppProcess | undefined;
  #generation = 0;
  #state: AppState = 'starting';
  #error: string | undefined;
  #changed: readonly string[] | undefined;
  #tree: StartedMessage | undefined;
  #personas = new Map<string, PersonaView>();
  /** The error lines of this generation, for the overview when it fails. */
  #errorLines: string[] = [];
  /** A restart in progress, and whether another change came meanwhile. */
  #restarting: Promise<void> | undefined;
  #again: string[] | undefined;
  #closed = false;

  /**
   * How long the app may take to stop before its process group is killed: longer than the local
   * runner's own grace for its personas (10 s), so that it stops them and its PostgreSQL itself.
   */
  get #stopGraceMs(): number {
    return this.#options.stopGraceMs ?? (this.#options.mode === 'local' ? 20_000 : 5_000);
  }

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  start(): void {
    this.#generation++;
    this.#state = 'starting';
    this.#error = undefined;
    this.#errorLines = [];
    // The tree of the last start stays on show until the new one says what it is.
    for (const [id, view] of this.#personas) this.#personas.set(id, { ...view, state: 'starting' });
    this.#emitOverview();
    const before = this.#options.before;
    if (before === undefined) {
      this.#spawn();
      return;
    }
    const generation = this.#generation;
    const building = new AppProcess({
      command: this.#options.command,
      args: before.args,
      cwd: this.#options.cwd,
      env: before.env,
      ipc: false,
      events: { started: () => {}, persona: () => {}, line: (line) => this.#line(line), exited: () => {} },
    });
    this.#process = building;
    void building.exited.then((code) => {
      // A change meanwhile: the restart that stopped it starts anew.
      if (generation !== this.#generation || this.#state === 'restarting' || this.#closed) return;
      if (code === 0) this.#spawn();
      else this.#exited(building, code);
    });
  }

  #spawn(): void {
    const app = new AppProcess({
      command: this.#options.command,
      args: this.#options.args,
      cwd: this.#options.cwd,
      env: this.#options.env,
      prefixed: this.#options.mode === 'local',
      events: {
        started: (message) => this.#current(app) && this.#started(message),
        persona: (message) => this.#current(app) && this.#persona(message),
        line: (line) => this.#line(line),
        exited: (code) => this.#exited(app, code),
      },
    });
    this.#process = app;
  }

  /**
   * Starts the app again after `changed`. Changes made while the app stops join this restart
   * (one start for them all); a change once it has started is a restart of its own.
   */
  restart(changed: string[]): Promise<void> {
    if (this.#restarting) {
      this.#again = [...(this.#again ?? []), ...changed];
      return this.#restarting;
    }
    this.#restarting = (async () => {
      let files = changed;
      for (;;) {
        this.#changed = files;
        this.#options.print(`Changed: ${files.join(', ')}; restarting`);
        this.#state = 'restarting';
        this.#emitOverview();
        await this.#process?.stop(this.#stopGraceMs);
        if (this.#closed) return;
        const more = this.#again;
        this.#again = undefined;
        if (more === undefined) break;
        files = [...new Set([...files, ...more])].sort();
      }
      this.start();
    })().finally(() => (this.#restarting = undefined));
    return this.#restarting;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#process?.stop(this.#stopGraceMs);
  }

  subscribe(listener: (event: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  overview(): Overview {
    const tree = this.#tree;
    return {
      ...(tree ? { app: tree.app, diagram: tree.diagram, mermaid: tree.mermaid } : {}),
      mode: this.#options.mode,
      generation: this.#generation,
      state: this.#state,
      ...(this.#error === undefined ? {} : { error: this.#error }),
      ...(this.#changed === undefined ? {} : { changed: this.#changed }),
      personas: [...this.#personas.values()],
    };
  }

  endpoints(): readonly EndpointView[] {
    return this.#tree?.endpoints ?? [];
  }

  stores(): readonly StoreView[] {
    return this.#tree?.stores ?? [];
  }

  call(call: CallRequest): Promise<CallResult> {
    return this.#ask({ op: 'call', call });
  }

  entries(store: string, after: string | undefined, limit: number): Promise<StorePage> {
    return this.#ask({ op: 'entries', store, limit, ...(after === undefined ? {} : { after }) });
  }

  index(store: string, index: string, after: string | undefined, limit: number): Promise<IndexPage> {
    return this.#ask({ op: 'index', store, index, limit, ...(after === undefined ? {} : { after }) });
  }

  /** Spans the app exported (an OTLP/HTTP JSON body); each trace that got some is told. */
  addSpans(body: unknown): number {
    const spans = spansOfExport(body);
    for (const traceId of this.traces.add(spans)) {
      const summary = this.traces.summary(traceId);
      if (summary) this.#emit({ type: 'trace', data: summary });
    }
    return spans.length;
  }

  #ask<T>(query: DevQuery): Promise<T> {
    const app = this.#process;
    if (!app || this.#state !== 'running')
      return Promise.reject(new HttpError(503, `The app is ${this.#state}: try again once it runs`));
    return app.request<T>(query);
  }

  #started(message: StartedMessage): void {
    this.#tree = message;
    this.#state = 'running';
    const previous = this.#personas;
    this.#personas = new Map(
      message.personas.map((p) => [
        p.id,
        { id: p.id, kind: p.kind, state: 'starting', restarts: previous.get(p.id)?.restarts ?? 0 },
      ]),
    );
    this.#emitOverview();
  }

  #persona(message: PersonaMessage): void {
    const view = this.#personas.get(message.id);
    if (!view) return;
    let restarts = view.restarts;
    if (message.state === 'starting') {
      const starts = (this.#starts.get(message.id) ?? 0) + 1;
      this.#starts.set(message.id, starts);
      restarts = starts - 1;
    }
    this.#personas.set(message.id, {
      id: view.id,
      kind: view.kind,
      state: message.state,
      restarts,
      ...(message.error === undefined ? {} : { error: message.error }),
      ...(message.exitCode === undefined ? {} : { exitCode: message.exitCode }),
    });
    this.#emitOverview();
  }

  #line(parsed: Omit<LogLine, 'seq'>): void {
    const line = this.logs.add(parsed);
    if (line.level === 'error' || line.level === 'fatal') {
      const err = (line.fields.err as { stack?: unknown } | undefined)?.stack;
      this.#errorLines.push(typeof err === 'string' ? `${line.msg}\n${err}` : line.msg);
      if (this.#errorLines.length > ERROR_LINES) this.#errorLines.shift();
    }
    this.#options.print(readable(line));
    this.#emit({ type: 'log', data: line });
  }

  /**
   * Whether what `app` tells still counts: not once it is being stopped (for a restart, or at the
   * end), when its tasks, aborted, would report failures that are none.
   */
  #current(app: AppProcess): boolean {
    return app === this.#process && this.#state !== 'restarting' && !this.#closed;
  }

  #exited(app: AppProcess, code: number): void {
    // A process stopped for a restart (or at the end) is not a failure.
    if (!this.#current(app)) return;
    this.#state = code === 0 ? 'exited' : 'failed';
    if (code !== 0)
      this.#error = this.#errorLines.join('\n') || `The app's process exited with code ${code} before it said why`;
    for (const [id, view] of this.#personas)
      if (view.state === 'starting' || view.state === 'healthy' || view.state === 'running')
        this.#personas.set(id, { ...view, state: 'stopped' });
    this.#options.print(
      code === 0
        ? 'The app has exited; waiting for a change to start it again'
        : `The app failed (exit code ${code}); waiting for a change to start it again`,
    );
    this.#emitOverview();
  }

  #emitOverview(): void {
    this.#emit({ type: 'overview', data: this.overview() });
  }

  #emit(event: SessionEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

/** A log line as the terminal shows it: time, level, persona, message (and an error's stack). */
export function readable(line: LogLine): string {
  const time = new Date(line.time).toTimeString().slice(0, 8);
  const who = line.persona ?? 'app';
  const err = (line.fields.err as { stack?: unknown } | undefined)?.stack;
  return `${time} ${line.level.toUpperCase().padEnd(5)} ${who}: ${line.msg}${typeof err === 'string' ? `\n${err}` : ''}`;
}
