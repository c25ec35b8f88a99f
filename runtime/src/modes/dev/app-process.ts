/**
 * The app's process, as `npm run dev` runs it: Node on the app's entry module with an IPC
 * channel, its output read line by line (pino's JSON lines, or any text: a syntax error's
 * report), its messages (dev-protocol.ts) handed on, and requests to it answered in order.
 * Stopped with SIGTERM, then SIGKILL when it does not stop in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { constants } from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import { HttpError } from '../../components/api/http-error.ts';
import type { AgentMessage, DevQuery, PersonaMessage, ReplyMessage, StartedMessage } from '../dev-protocol.ts';
import type { LogLevel, LogLine } from '../dev-dashboard-api.ts';
import { isLogLevel } from './history.ts';

export interface AppProcessEvents {
  started(message: StartedMessage): void;
  persona(message: PersonaMessage): void;
  line(line: Omit<LogLine, 'seq'>): void;
  /** The process ended: its code, or 128 + the signal's number. */
  exited(code: number): void;
}

export interface AppProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly events: AppProcessEvents;
  /** Without the IPC channel (the build, which has nothing to tell). */
  readonly ipc?: boolean;
  /**
   * Lines are `<persona> | <line>`, as the local runner prefixes its processes' lines: the
   * persona is taken from the prefix when the line does not say.
   */
  readonly prefixed?: boolean;
}

/** How long an ended process's output may take to be read to its end. */
const OUTPUT_DRAIN_MS = 1_000;

/** How long a request to the app (an endpoint call, a page of a Store) may take. */
export const REQUEST_TIMEOUT_MS = 35_000;

export class AppProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: HttpError) => void }>();
  #nextId = 0;
  #running = true;
  /** Resolves once the process has ended and its output has been read. */
  readonly exited: Promise<number>;

  constructor(options: AppProcessOptions) {
    const { events } = options;
    this.#child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: options.ipc === false ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      // JSON over the channel: what the agent sends is plain data.
      serialization: 'json',
      // A process group of its own, which stop() ends whole: the local runner's persona
      // processes, or anything the app started, with it.
      detached: true,
    });
    const parse = options.prefixed ? parsePrefixedLine : parseLine;
    const read = (stream: NodeJS.ReadableStream, fallback: LogLevel) =>
      new Promise<void>((resolve) =>
        createInterface({ input: stream, crlfDelay: Infinity })
          .on('line', (text) => {
            // Colours (Node's stack traces, a library's) are for a terminal: the dashboard shows text.
            const plain = stripVTControlCharacters(text);
            if (plain.trim() !== '') events.line(parse(plain, fallback));
          })
          .on('close', resolve),
      );
    const output = Promise.all([read(this.#child.stdout!, 'info'), read(this.#child.stderr!, 'error')]);
    this.#child.on('message', (message: AgentMessage) => {
      if (message?.type === 'started') events.started(message);
      else if (message?.type === 'persona') events.persona(message);
      else if (message?.type === 'reply') this.#settle(message);
    });
    this.exited = new Promise<number>((resolve) => {
      const end = (code: number) => {
        if (!this.#running) return;
        this.#running = false;
        // What it left behind in its group (a persona process of a runner that crashed) goes too.
        this.#killGroup();
        for (const { reject } of this.#pending.values())
          reject(new HttpError(503, 'The app stopped before it answered'));
        this.#pending.clear();
        // Its last lines first; but a grandchild holding the pipes open must not hold this up.
        void Promise.race([output, new Promise((done) => setTimeout(done, OUTPUT_DRAIN_MS))]).then(() => {
          events.exited(code);
          resolve(code);
        });
      };
      // 'error': it could not be started, or a signal could not be sent (then it may still run).
      this.#child.on('error', () => {
        if (this.#child.pid === undefined || this.#child.exitCode !== null) end(127);
      });
      this.#child.once('exit', (code, signal) => end(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
  }

  get running(): boolean {
    return this.#running;
  }

  /** Asks the app; rejects (with a `status`) when it refuses, stops, or takes too long. */
  request<T>(query: DevQuery, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    if (!this.#running || !this.#child.connected)
      return Promise.reject(new HttpError(503, 'The app is not running (see its state and log)'));
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new HttpError(504, `The app did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.#child.send({ type: 'request', id, query });
    });
  }

  #settle(reply: ReplyMessage): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if ('value' in reply) pending.resolve(reply.value);
    else pending.reject(new HttpError(reply.status, reply.error));
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has ended. */
  /** SIGTERM (the app stops its personas), then SIGKILL to its whole group after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.#running) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#killGroup(), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  #killGroup(): void {
    if (this.#child.pid === undefined) return;
    try {
      process.kill(-this.#child.pid, 'SIGKILL');
    } catch {
      // The group is gone already (ESRCH): nothing was left.
    }
  }
}

/** Fields of a pino line the dashboard shows apart from the rest. */
const OWN_FIELDS = new Set([
  'level',
  'time',
  'msg',
  'app',
  'persona',
  'component',
  'trace_id',
  'span_id',
  'trace_flags',
]);

/** A line of the app's output: one of pino's JSON lines, or plain text at `fallback`'s level. */
export function parseLine(text: string, fallback: LogLevel): Omit<LogLine, 'seq'> {
  if (text.startsWith('{')) {
    try {
      const object = JSON.parse(text) as Record<string, unknown>;
      if (typeof object.level === 'string' && isLogLevel(object.level)) {
        const fields: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(object)) if (!OWN_FIELDS.has(k)) fields[k] = v;
        const time = typeof object.time === 'string' ? Date.parse(object.time) : NaN;
        const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
        return stripUndefined({
          time: Number.isFinite(time) ? time : Date.now(),
          level: object.level,
          persona: str(object.persona),
          component: str(object.component),
          msg: typeof object.msg === 'string' ? object.msg : '',
          traceId: str(object.trace_id),
          spanId: str(object.span_id),
          fields,
        });
      }
    } catch {
      // Not JSON after all: text.
    }
  }
  return { time: Date.now(), level: fallback, msg: text, fields: {} };
}

/** A line of the local runner: `<persona> | <line>` for a persona's, else its own. */
export function parsePrefixedLine(text: string, fallback: LogLevel): Omit<LogLine, 'seq'> {
  const match = /^([^\s|]+) *\| (.*)$/.exec(text);
  if (!match) return parseLine(text, fallback);
  const line = parseLine(match[2]!, fallback);
  return line.persona === undefined ? { ...line, persona: match[1]! } : line;
}

function stripUndefined<T extends object>(object: T): T {
  for (const key of Object.keys(object) as (keyof T)[]) if (object[key] === undefined) delete object[key];
  return object;
}
