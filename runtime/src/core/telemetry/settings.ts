/**
 * The environment variables that configure logs and telemetry, read and checked once at start:
 * a persona with a setting it cannot honour stops at once, naming the variable, rather than
 * running without the logs or traces its operator asked for. The OpenTelemetry variables are
 * the SDK's own (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/);
 * the SDK itself only warns about unknown names and carries on, which is why they are checked here.
 */
import { errors } from '../errors.ts';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
export type LogFormat = 'json' | 'pretty';

export interface TelemetrySettings {
  logLevel: LogLevel;
  /** Default: readable lines in a terminal, JSON lines otherwise (containers, CI, pipes). */
  logFormat: LogFormat;
  /** Whether to start the OpenTelemetry SDK: an exporter or OTLP endpoint is set, and the SDK is not disabled. */
  exporting: boolean;
}

/** Comma-separated lists of names, and the names each may hold (what modes/telemetry-sdk.ts sets up). */
const nameLists: Record<string, readonly string[]> = {
  OTEL_TRACES_EXPORTER: ['otlp', 'console', 'none'],
  OTEL_METRICS_EXPORTER: ['otlp', 'console', 'none'],
  // Logs are JSON lines on standard output, for the container runtime or a collector's file
  // receiver to pick up; they are not sent over OTLP.
  OTEL_LOGS_EXPORTER: ['none'],
  OTEL_PROPAGATORS: ['tracecontext', 'baggage', 'none'],
};

/**
 * OTLP over HTTP only: the gRPC exporter and its HTTP/2 stack would double the SDK's size in
 * every image and its load time, for what every collector also takes over HTTP.
 */
const protocols = ['http/protobuf', 'http/json'];
const protocolVariables = ['', 'TRACES_', 'METRICS_', 'LOGS_'].map((s) => `OTEL_EXPORTER_OTLP_${s}PROTOCOL`);
const endpointVariables = ['', 'TRACES_', 'METRICS_', 'LOGS_'].map((s) => `OTEL_EXPORTER_OTLP_${s}ENDPOINT`);
const samplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** The exporter variables: one naming an exporter other than `none` asks for export. */
const exporterVariables = Object.keys(nameLists).filter((v) => v.endsWith('_EXPORTER'));

/** Numbers the SDK's parts take from the environment, each a positive whole number of the unit said. */
const positiveIntegers = [
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'OTEL_METRIC_EXPORT_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
];

const diagLevels = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'];

const oneOf = (names: readonly string[]) => `one of ${names.join(', ')}`;

/** The first of `names` set to a number in `env` (the SDK's numeric variables, checked at start where they must be). */
export function envNumber(env: NodeJS.ProcessEnv, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '' && Number.isFinite(Number(value))) return Number(value);
  }
  return undefined;
}

/** Reads and checks the settings; throws INFRA_INVALID_TELEMETRY_SETTING naming the first bad variable. */
export function telemetrySettings(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): TelemetrySettings {
  const given = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const value = given(name);
    if (value === undefined) return undefined;
    const lower = value.toLowerCase() as T;
    if (!allowed.includes(lower)) throw errors.invalidTelemetrySetting(name, value, oneOf(allowed));
    return lower;
  };

  const logLevel = choice('LOG_LEVEL', logLevels) ?? 'info';
  const logFormat = choice<LogFormat>('LOG_FORMAT', ['json', 'pretty']) ?? (stdoutIsTerminal ? 'pretty' : 'json');

  for (const [name, allowed] of Object.entries(nameLists)) {
    const list = given(name);
    if (list === undefined) continue;
    for (const item of list.split(',').map((s) => s.trim().toLowerCase())) {
      if (!allowed.includes(item))
        throw errors.invalidTelemetrySetting(name, list, `a comma-separated list of ${oneOf(allowed)}`);
    }
  }
  for (const name of protocolVariables) choice(name, protocols);
  for (const name of endpointVariables) {
    const value = given(name);
    if (value !== undefined && !isHttpUrl(value))
      throw errors.invalidTelemetrySetting(
        name,
        value,
        'an http:// or https:// URL (the OTLP receiver, such as http://localhost:4318)',
      );
  }
  const sampler = choice('OTEL_TRACES_SAMPLER', samplers);
  const ratio = given('OTEL_TRACES_SAMPLER_ARG');
  if (sampler?.endsWith('traceidratio') && ratio !== undefined) {
    const n = Number(ratio);
    if (!Number.isFinite(n) || n < 0 || n > 1)
      throw errors.invalidTelemetrySetting('OTEL_TRACES_SAMPLER_ARG', ratio, 'a number from 0 to 1');
  }
  for (const name of positiveIntegers) {
    const value = given(name);
    if (value !== undefined && !/^[1-9]\d{0,9}$/.test(value))
      throw errors.invalidTelemetrySetting(name, value, 'a whole number greater than 0');
  }
  choice('OTEL_LOG_LEVEL', diagLevels);
  const disabled = choice('OTEL_SDK_DISABLED', ['true', 'false']) === 'true';
  const asked =
    endpointVariables.some((name) => given(name) !== undefined) ||
    exporterVariables.some((name) =>
      given(name)
        ?.split(',')
        .some((item) => item.trim().toLowerCase() !== 'none'),
    );
  return { logLevel, logFormat, exporting: !disabled && asked };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
