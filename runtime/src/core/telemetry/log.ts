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
import { context as contextApi, trace, type Context } from '@opentelemetry/api';
import { isValidSpanContext } from './span-context.ts';
import { currentContext } from '../app.ts';
import { currentLogScope } from './scope.ts';
import type { Logger } from '../logger.ts';
import { messageOf } from '../errors.ts';
import { logLevels, type LogFormat, type LogLevel } from './settings.ts';
import { blocksOf, standardStreams } from './line-writer.ts';
import { isoTime, writeIsoTime } from './iso-time.ts';
import { writeJsonField, writeJsonString, writeText, type LineBytes } from './json-line.ts';

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

/**
 * What every line gets at the moment it is written; the trace IDs are the active span's, or
 * the span's of `traceContext` when given.
 */
function mixin(traceContext?: Context): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const persona = currentContext()?.persona?.id.value ?? defaultPersona;
  if (persona !== undefined) fields.persona = persona;
  const scope = currentLogScope();
  if (scope !== undefined) {
    if (scope.component !== undefined) fields.component = scope.component;
    if (scope.endpoint !== undefined) fields.endpoint = scope.endpoint;
    if (scope.requestId !== undefined) fields.requestId = scope.requestId;
  }
  const span = traceContext === undefined ? trace.getActiveSpan() : trace.getSpan(traceContext);
  if (span !== undefined) {
    const context = span.spanContext();
    // The OpenTelemetry names for a log record's trace context (as its pino instrumentation writes them).
    if (isValidSpanContext(context)) {
      fields.trace_id = context.traceId;
      fields.span_id = context.spanId;
      fields.trace_flags = traceFlagsText(context.traceFlags);
    }
  }
  return fields;
}

/** W3C trace flags as traceparent writes them: two hexadecimal digits (of the low byte). */
function traceFlagsText(flags: number): string {
  return (flags & 0xff).toString(16).padStart(2, '0');
}

/**
 * A pino logger set up as every one of ours is. Errors and worse go to standard error, the rest
 * to standard output (each line to one of them), as command-line tools and container log
 * drivers expect; `destination` (a test's) takes every line.
 */
export function createLogger(setup: LogSetup, pretty?: (fd: 1 | 2) => DestinationStream): Pino {
  const logger = pino(
    {
      level: setup.level as LevelWithSilent,
      base: setup.app === undefined ? {} : { app: setup.app },
      // pino passes the line's own object: not a trace context.
      mixin: () => mixin(),
      // The label (`"level":"info"`), which a reader and a collector take without a table of numbers.
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
      timestamp: isoTime,
    },
    setup.destination ??
      (pretty === undefined
        ? standardStreams()
        : pino.multistream(
            [
              { level: 'trace', stream: pretty(1) },
              { level: 'error', stream: pretty(2) },
            ],
            { dedupe: true },
          )),
  );
  if (pretty === undefined) jsonLoggers.add(logger);
  return logger;
}

/** Loggers writing JSON lines (not pino-pretty's), which logFlat may write to directly. */
const jsonLoggers = new WeakSet<Pino>();

/** The fields one line takes: flat, each a string or a number, none of them a secret. */
export type FlatFields = Record<string, string | number | undefined>;

/**
 * Writes `fields` and `message` at `level`, as the root logger would: the same JSON, the same
 * context fields (the mixin's), to the same destination. For lines of a known, flat shape
 * written often (an API's access line, one per request), it serialises them itself rather than
 * through pino's general path (mixin merge, the redaction formatter, any object's
 * serialisation): 1.5 µs a line instead of 6. Fields with secret names are not expected here;
 * with pino-pretty, pino writes the line. `traceContext`: the trace the line is told in, when
 * not the active one (saving a context switch per line).
 */
export function logFlat(level: 'debug' | 'info', fields: FlatFields, message: string, traceContext?: Context): void {
  const logger = rootLogger();
  if (!logger.isLevelEnabled(level)) return;
  if (!jsonLoggers.has(logger)) {
    if (traceContext === undefined) logger[level](fields, message);
    else contextApi.with(traceContext, () => logger[level](fields, message));
    return;
  }
  const stream = (logger as unknown as Record<symbol, DestinationStream & Record<string, unknown>>)[
    pino.symbols.streamSym
  ];
  const chindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym];
  const blocks = blocksOf(stream);
  if (blocks !== undefined && !hasIndexKey(fields)) {
    // Ours: the line written into its block's bytes in place (json-line.ts); a line that fails
    // half-way is taken back whole, not left for the next one to be glued to.
    const start = blocks.pos;
    try {
      writeFlatLine(blocks, level, chindings, fields, message, traceContext);
    } catch (err) {
      blocks.pos = start;
      throw err;
    }
    blocks.ended();
    return;
  }
  // As pino merges them: the mixin's fields first, a field of the line's own taking its place.
  const merged: Record<string, unknown> = Object.assign(mixin(traceContext), fields);
  const time = isoTime();
  let line = `{"level":"${level}"${time}${chindings}`;
  for (const key in merged) {
    const value = merged[key];
    if (value === undefined) continue;
    line += `,${JSON.stringify(key)}:${typeof value === 'number' ? (Number.isFinite(value) ? String(value) : 'null') : (JSON.stringify(value) ?? 'null')}`;
  }
  line += `,"msg":${JSON.stringify(message)}}\n`;
  if (stream[Symbol.for('pino.metadata') as unknown as string] === true) {
    // What pino tells a destination that asks (multistream, say) before each line.
    stream.lastLevel = logger.levels.values[level];
    stream.lastMsg = message;
    stream.lastObj = merged;
    stream.lastTime = time.slice(8, -1);
    stream.lastLogger = logger;
  }
  stream.write(line);
}

/**
 * The line logFlat's string path writes (the mixin's fields, in its order, each replaced by the
 * line's own field of the same name; then the line's other fields; undefined ones left out),
 * written into `out` part by part: no merged object, no string per field.
 */
function writeFlatLine(
  out: LineBytes,
  level: 'debug' | 'info',
  chindings: string,
  fields: FlatFields,
  message: string,
  traceContext: Context | undefined,
): void {
  // What the mixin reads, before the first byte.
  const persona = currentContext()?.persona?.id.value ?? defaultPersona;
  const scope = currentLogScope();
  const span = traceContext === undefined ? trace.getActiveSpan() : trace.getSpan(traceContext);
  const spanContext = span?.spanContext();
  const traced = spanContext !== undefined && isValidSpanContext(spanContext);
  writeText(out, level === 'info' ? '{"level":"info"' : '{"level":"debug"');
  writeIsoTime(out);
  writeText(out, chindings);
  writeMixinField(out, fields, 'persona', persona);
  writeMixinField(out, fields, 'component', scope?.component);
  writeMixinField(out, fields, 'endpoint', scope?.endpoint);
  writeMixinField(out, fields, 'requestId', scope?.requestId);
  if (traced) {
    writeMixinField(out, fields, 'trace_id', spanContext.traceId);
    writeMixinField(out, fields, 'span_id', spanContext.spanId);
    writeMixinField(out, fields, 'trace_flags', traceFlagsText(spanContext.traceFlags));
  }
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    // A mixin field's name the mixin gave a value to: written in its place above.
    switch (key) {
      case 'persona':
        if (persona !== undefined) continue;
        break;
      case 'component':
      case 'endpoint':
      case 'requestId':
        if (scope?.[key] !== undefined) continue;
        break;
      case 'trace_id':
      case 'span_id':
      case 'trace_flags':
        if (traced) continue;
        break;
    }
    const value = fields[key];
    if (value !== undefined) writeJsonField(out, key, value);
  }
  writeText(out, ',"msg":');
  writeJsonString(out, message);
  writeText(out, '}\n');
}

/**
 * Whether `fields` has a key such as "2": an object lists those first, before the mixin's
 * fields it is merged into, and so does the string path. Such keys come first in a for-in too:
 * only the first key need be looked at.
 */
function hasIndexKey(fields: FlatFields): boolean {
  for (const key in fields) {
    const first = key.charCodeAt(0);
    return first >= 0x30 && first <= 0x39 && String(Number(key)) === key && Number(key) < 2 ** 32 - 1;
  }
  return false;
}

/** A mixin field, or the line's own of the same name in its place; none when the one to write is undefined. */
function writeMixinField(out: LineBytes, fields: FlatFields, key: string, value: string | undefined): void {
  if (value === undefined) return;
  const written = Object.hasOwn(fields, key) ? fields[key] : value;
  if (written !== undefined) writeJsonField(out, key, written);
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
