/**
 * The logs: pino (Fastify's own logger) writing one JSON object per line, or readable lines in
 * a terminal (pino-pretty). Every line carries the app and, through a mixin read at each call,
 * the persona whose code runs, the log scope (component, endpoint, request) and the active
 * span's trace and span IDs, so a line can be found from a trace and a trace from a line.
 *
 * `log` is the app's logger (`import { log } from 'infra-generator'`); the runtime writes its
 * own lines through the same root logger, by the `Logger` interface of core/logger.ts.
 */
import { pino, type Logger as Pino, type DestinationStream, type LevelWithSilent } from 'pino';
import { trace, isSpanContextValid } from '@opentelemetry/api';
import { currentContext } from '../app.ts';
import { currentLogScope } from './scope.ts';
import type { Logger } from '../logger.ts';
import { messageOf } from '../errors.ts';
import { logLevels, type LogFormat, type LogLevel } from './settings.ts';

/**
 * Never written: a field whose name says it holds a secret (`authorization`, `Authorization`,
 * `proxy-authorization`, `password`, `accessToken`, `x-api-key`, `set-cookie`, `clientSecret`…:
 * the name, lower-cased without `-` and `_`, contains one of SECRET_WORDS), at the top of a line's
 * object or one level down (`{ headers: { Authorization } }`, `{ users: [{ password }] }`),
 * whatever the parent's name. A formatter of ours rather than pino's `redact` paths: those take
 * exact names, need wildcards for "one level down", and wildcards made every line cost 8 µs more
 * (15 µs instead of 6), a tenth of an API call.
 */
export const SECRET_WORDS: readonly string[] = [
  'authorization',
  'password',
  'passwd',
  'token',
  'secret',
  'apikey',
  'cookie',
];

const REDACTED = '[redacted]';
const secretNames = new Map<string, boolean>();

/** Whether a field of this name is a secret (remembered: lines reuse few names). */
function isSecretName(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    const plain = name.toLowerCase().replace(/[-_]/g, '');
    secret = SECRET_WORDS.some((word) => plain.includes(word));
    if (secretNames.size < 10_000) secretNames.set(name, secret);
  }
  return secret;
}

/** `value` with its secret fields redacted (a copy when there were any), for one level of objects. */
function redactedLevel(value: object): object {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      if (item === null || typeof item !== 'object') return;
      const redacted = redactedLevel(item as object);
      if (redacted !== item) (out ??= [...value])[i] = redacted;
    });
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const name of Object.keys(value)) if (isSecretName(name)) (out ??= { ...value })[name] = REDACTED;
  return out ?? value;
}

/** `fields` with every secret field (see SECRET_WORDS) replaced; the caller's object is not changed. */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const value = fields[key];
    let replacement: unknown = value;
    if (isSecretName(key)) replacement = REDACTED;
    // An Error's own fields too (pino's serializer writes them), then as a plain copy.
    else if (value instanceof Error) {
      const own = { ...value } as Record<string, unknown>;
      const redacted = redactedLevel(own);
      if (redacted !== own)
        replacement = { type: value.constructor.name, message: value.message, stack: value.stack, ...redacted };
    } else if (value !== null && typeof value === 'object') replacement = redactedLevel(value);
    if (replacement !== value) {
      if (out === fields) out = { ...fields };
      out[key] = replacement;
    }
  }
  return out;
}

export interface LogSetup {
  level: LogLevel;
  format: LogFormat;
  /** The app's root ID, on every line. */
  app?: string;
  /** The persona of this process (a deployed one), for lines written outside any persona's code. */
  persona?: string;
  /** Where lines go (default: standard output). */
  destination?: DestinationStream;
}

let root: Pino | undefined;
let defaultPersona: string | undefined;

/** What every line gets at the moment it is written. */
function mixin(): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const persona = currentContext()?.persona?.id.value ?? defaultPersona;
  if (persona !== undefined) fields.persona = persona;
  const scope = currentLogScope();
  if (scope !== undefined) {
    if (scope.component !== undefined) fields.component = scope.component;
    if (scope.endpoint !== undefined) fields.endpoint = scope.endpoint;
    if (scope.requestId !== undefined) fields.requestId = scope.requestId;
  }
  const span = trace.getActiveSpan();
  if (span !== undefined) {
    const context = span.spanContext();
    // The OpenTelemetry names for a log record's trace context (as its pino instrumentation writes them).
    if (isSpanContextValid(context)) {
      fields.trace_id = context.traceId;
      fields.span_id = context.spanId;
      fields.trace_flags = `0${context.traceFlags.toString(16)}`;
    }
  }
  return fields;
}

/**
 * A pino logger set up as every one of ours is. Errors and worse go to standard error, the rest
 * to standard output (each line to one of them), as command-line tools and container log
 * drivers expect; `destination` (a test's) takes every line.
 */
export function createLogger(setup: LogSetup, pretty?: (fd: 1 | 2) => DestinationStream): Pino {
  const stream = (fd: 1 | 2) =>
    pretty?.(fd) ?? (fd === 1 ? bufferedStdout() : pino.destination({ dest: 2, sync: true }));
  return pino(
    {
      level: setup.level as LevelWithSilent,
      base: setup.app === undefined ? {} : { app: setup.app },
      mixin,
      // The label (`"level":"info"`), which a reader and a collector take without a table of numbers.
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    setup.destination ??
      pino.multistream(
        [
          { level: 'trace', stream: stream(1) },
          { level: 'error', stream: stream(2) },
        ],
        { dedupe: true },
      ),
  );
}

/** How long a line may wait in standard output's buffer. */
const FLUSH_INTERVAL_MS = 100;

/**
 * Standard output, written in blocks of up to 4 KiB rather than a system call per line (pino's
 * own advice for throughput): an API's access line per request cost about 10 µs of a 50 µs call
 * written at once. A line waits at most FLUSH_INTERVAL_MS; what is left is written when the
 * process exits (pino flushes its destinations then), and errors go to standard error at once.
 */
function bufferedStdout(): DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), FLUSH_INTERVAL_MS).unref();
  return destination;
}

/**
 * Sets the root logger for this process: the level, the format, the app and the persona. Loads
 * pino-pretty for the readable format (an optional dependency: without it, JSON). Returns a
 * function that puts the previous root logger back (for tests).
 */
export async function setUpLogging(setup: LogSetup): Promise<() => void> {
  let pretty: ((fd: 1 | 2) => DestinationStream) | undefined;
  if (setup.format === 'pretty' && setup.destination === undefined) {
    try {
      const { default: prettyFactory } = await import('pino-pretty');
      pretty = (fd) =>
        prettyFactory({
          sync: true,
          destination: fd,
          colorize: (fd === 1 ? process.stdout : process.stderr).isTTY === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,app,trace_flags',
          singleLine: true,
        });
    } catch {
      // pino-pretty is optional (app images leave it out): JSON then.
    }
  }
  const previous = { root, defaultPersona };
  root = createLogger(setup, pretty);
  defaultPersona = setup.persona;
  return () => {
    root = previous.root;
    defaultPersona = previous.defaultPersona;
  };
}

/**
 * The root logger: the one set up, or until then JSON lines at LOG_LEVEL (checked when a persona
 * starts; here an unknown level is taken as info).
 */
export function rootLogger(): Pino {
  return (root ??= createLogger({ level: levelFromEnvironment(), format: 'json' }));
}

function levelFromEnvironment(): LogLevel {
  const level = process.env.LOG_LEVEL?.trim().toLowerCase() as LogLevel | undefined;
  return level !== undefined && logLevels.includes(level) ? level : 'info';
}

/** The runtime's own lines (core/logger.ts), written by the root logger. */
export const pinoLogger: Logger = {
  info: (message) => rootLogger().info(message),
  error: (message, err) =>
    err === undefined ? rootLogger().error(message) : rootLogger().error({ err: asError(err) }, message),
};

/** pino's error serializer takes an Error; anything else thrown is logged as its message. */
function asError(err: unknown): unknown {
  if (err instanceof Error) return err;
  return { message: messageOf(err) };
}

type LogMethod = Pino['info'];

/**
 * The app's logger: pino's methods (`log.info('text')`, `log.info({ orderId }, 'text')`), with
 * the context of the call.
 */
export interface AppLog {
  readonly trace: LogMethod;
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
  readonly fatal: LogMethod;
}

const forward =
  (level: keyof AppLog): LogMethod =>
  (...args: Parameters<LogMethod>) =>
    (rootLogger()[level] as (...a: unknown[]) => void)(...args);

export const log: AppLog = Object.freeze({
  trace: forward('trace'),
  debug: forward('debug'),
  info: forward('info'),
  warn: forward('warn'),
  error: forward('error'),
  fatal: forward('fatal'),
});
