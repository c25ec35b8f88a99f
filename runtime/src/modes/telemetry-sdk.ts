/**
 * Starting the OpenTelemetry SDK for a process that runs personas, when the OTEL_* variables ask
 * for it; otherwise nothing is loaded, and the runtime's spans and metrics stay the API's no-ops.
 *
 * The SDK's parts are set up from the specification's own variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/), as
 * @opentelemetry/sdk-node does, but from its OTLP/HTTP parts only: sdk-node loads the gRPC,
 * Zipkin and Prometheus exporters and the instrumentation loader whether used or not (17 MB in
 * every image and about 350 ms at start, against 7 MB and 180 ms here). The exporters read their
 * own OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout, compression). What is ours: the
 * defaults of the resource (the persona as `service.name`, the app as `service.namespace` and
 * `infra.app.id`), the SDK's warnings sent to the log at most once a minute each, and a flush on
 * exit bounded by the shutdown grace.
 */
import { context, diag, DiagLogLevel, metrics, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import type { Logger } from '../core/logger.ts';
import { messageOf } from '../core/errors.ts';
import { ATTR_APP_ID } from '../core/telemetry/attributes.ts';
import { envNumber } from '../core/telemetry/settings.ts';
import { RuntimeMetrics } from '../core/telemetry/metrics.ts';
import type { Resource } from '@opentelemetry/resources';
// Types only: the tracer's modules are loaded, as the SDK's are, only when telemetry is exported.
import type { LeanTracerProvider } from './telemetry-tracer.ts';
import type { BatchSettings, SpanRequest } from './telemetry-span-export.ts';

export interface Telemetry {
  /**
   * Exports what is still queued and stops; resolves within `graceMs` even when the receiver
   * does not answer, to whether everything was sent by then (`false`: an export is still pending).
   */
  shutdown(graceMs?: number): Promise<boolean>;
}

const NONE: Telemetry = { shutdown: async () => true };

/** How long a persona waits for its last spans and metrics to be sent, by default. */
export const FLUSH_GRACE_MS = 3_000;

export interface TelemetryStart {
  /** Whether to start the SDK (telemetrySettings().exporting, which also checked the variables). */
  exporting: boolean;
  env: NodeJS.ProcessEnv;
  /** `service.name` unless OTEL_SERVICE_NAME says otherwise: the persona's ID, or the app's in one process. */
  serviceName: string;
  app: string;
  log: Logger;
}

export async function startTelemetry(start: TelemetryStart): Promise<Telemetry> {
  if (!start.exporting) return NONE;
  const { env } = start;
  const [
    traceSdk,
    metricsSdk,
    resources,
    core,
    { RuntimeContextManager },
    { DEFAULT_BATCH_SETTINGS },
    { TraceContextPropagator },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('./telemetry-context-manager.ts'),
    import('./telemetry-span-export.ts'),
    import('./telemetry-propagation.ts'),
  ]);
  // Export failures reach the SDK's diagnostic logger; without one they would vanish, and with
  // a plain one each failed batch would be a line. OTEL_LOG_LEVEL asks for the SDK's own chatter.
  diag.setLogger(rateLimitedDiag(start.log), {
    logLevel: diagLevel(env.OTEL_LOG_LEVEL),
    suppressOverrideMessage: true,
  });

  const list = (name: string, fallback: string[]) => {
    const names = (env[name] ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    return names.length === 0 ? fallback : names.includes('none') ? [] : [...new Set(names)];
  };
  const number = (name: string) => envNumber(env, name);
  const protocol = (signal: 'TRACES' | 'METRICS') =>
    (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf')
      .trim()
      .toLowerCase();

  const batchSettings: BatchSettings = {
    maxQueueSize: number('OTEL_BSP_MAX_QUEUE_SIZE') ?? DEFAULT_BATCH_SETTINGS.maxQueueSize,
    maxExportBatchSize: number('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? DEFAULT_BATCH_SETTINGS.maxExportBatchSize,
    scheduledDelayMillis: number('OTEL_BSP_SCHEDULE_DELAY') ?? DEFAULT_BATCH_SETTINGS.scheduledDelayMillis,
    exportTimeoutMillis: number('OTEL_BSP_EXPORT_TIMEOUT') ?? DEFAULT_BATCH_SETTINGS.exportTimeoutMillis,
  };

  // The lowest-priority attributes: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them.
  const resource = resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        'service.name': start.serviceName,
        'service.namespace': start.app,
        [ATTR_APP_ID]: start.app,
      }),
    )
    .merge(
      resources.detectResources({
        // Not the host detector: in a container it finds no machine ID and warns on every start.
        detectors: [resources.serviceInstanceIdDetector, resources.processDetector, resources.envDetector],
      }),
    );

  const traceExporters = list('OTEL_TRACES_EXPORTER', ['otlp']);
  const spanProcessors = [];
  // OTLP in protobuf, the default and usual case: our tracer (telemetry-tracer.ts says why).
  const lean =
    traceExporters.length === 1 && traceExporters[0] === 'otlp' && protocol('TRACES') === 'http/protobuf'
      ? await leanTracerProvider(traceSdk, resource, env, batchSettings)
      : undefined;
  for (const name of lean === undefined ? traceExporters : []) {
    if (name === 'console') {
      spanProcessors.push(new traceSdk.SimpleSpanProcessor({ exporter: new traceSdk.ConsoleSpanExporter() }));
      continue;
    }
    const { OTLPTraceExporter } =
      protocol('TRACES') === 'http/json'
        ? await import('@opentelemetry/exporter-trace-otlp-http')
        : await import('@opentelemetry/exporter-trace-otlp-proto');
    // Batched, off the request path, into a bounded queue that drops (and counts) when full.
    spanProcessors.push(
      new traceSdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter(),
        ...batchSettings,
      }),
    );
  }
  const tracerProvider =
    lean ??
    (spanProcessors.length === 0
      ? undefined
      : new traceSdk.TracerProvider({ resource, spanProcessors, sampler: sampler(traceSdk, env) }));

  const readers = [];
  const runtimeMetrics: RuntimeMetrics[] = [];
  for (const name of list('OTEL_METRICS_EXPORTER', ['otlp'])) {
    const exporter =
      name === 'console'
        ? new metricsSdk.ConsoleMetricExporter()
        : new (protocol('METRICS') === 'http/json'
            ? await import('@opentelemetry/exporter-metrics-otlp-http')
            : await import('@opentelemetry/exporter-metrics-otlp-proto')
          ).OTLPMetricExporter();
    const interval = number('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
    // The runtime's own metrics (core/telemetry/metrics.ts), in the exporter's temporality.
    const runtime = new RuntimeMetrics(
      exporter.selectAggregationTemporality(metricsSdk.InstrumentType.HISTOGRAM) ===
        metricsSdk.AggregationTemporality.DELTA
        ? 'delta'
        : 'cumulative',
    );
    runtimeMetrics.push(runtime);
    readers.push(
      new metricsSdk.PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: interval,
        // The reader refuses a timeout longer than the interval.
        exportTimeoutMillis: Math.min(number('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, interval),
        metricProducers: [runtime],
      }),
    );
  }
  const meterProvider = readers.length === 0 ? undefined : new metricsSdk.MeterProvider({ resource, readers });

  const contextManager = new RuntimeContextManager();
  // Kept with the persona only while this manager is the one the API asks.
  if (context.setGlobalContextManager(contextManager)) contextManager.enable();
  const propagators = list('OTEL_PROPAGATORS', ['tracecontext', 'baggage']).map((name) =>
    name === 'baggage' ? new core.W3CBaggagePropagator() : new TraceContextPropagator(),
  );
  if (propagators.length > 0) propagation.setGlobalPropagator(new core.CompositePropagator({ propagators }));
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);
  for (const runtime of runtimeMetrics) runtime.attach();

  let stopped: Promise<boolean> | undefined;
  return {
    shutdown: (graceMs = FLUSH_GRACE_MS) =>
      (stopped ??= withinGrace(
        Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown()])
          .finally(() => {
            // Collected by the last export: from now on, nothing records for these readers.
            for (const runtime of runtimeMetrics) runtime.detach();
          })
          .then(
            () => {},
            (err: unknown) => start.log.error('Telemetry: the last export failed', err),
          ),
        graceMs,
      ).finally(() => {
        // What was registered goes, so that the process (a test's) can start telemetry again.
        for (const api of [trace, metrics, propagation, context, diag]) api.disable();
      })),
  };
}

/**
 * Our tracer, exporting OTLP/HTTP in protobuf through the SDK's transport; the sampler, the
 * resource and the span limits are the SDK's.
 */
async function leanTracerProvider(
  traceSdk: typeof import('@opentelemetry/sdk-trace'),
  resource: Resource,
  env: NodeJS.ProcessEnv,
  settings: BatchSettings,
): Promise<LeanTracerProvider> {
  const [
    { convertLegacyHttpOptions, createOtlpHttpExportDelegate },
    { ProtobufTraceSerializer },
    { LeanTracerProvider, spanLimitsFromEnvironment },
    { SpanBatches },
  ] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
    import('./telemetry-tracer.ts'),
    import('./telemetry-span-export.ts'),
  ]);
  const delegate = createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    {
      serializeRequest: (request: SpanRequest) => request.bytes,
      deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
    },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (request: SpanRequest) => request.spans },
    // The exporter's own metrics (spans in flight, export durations): off, as the SDK's exporter has them by default.
    undefined,
  );
  await resource.waitForAsyncAttributes?.();
  const chosen = sampler(traceSdk, env);
  return new LeanTracerProvider({
    sampler: chosen,
    // Its defaults drop every span under a parent not sampled (the SDK's own choice of delegates).
    followsParents: chosen instanceof traceSdk.ParentBasedSampler,
    limits: spanLimitsFromEnvironment(env),
    spans: new SpanBatches({
      settings,
      resourceAttributes: resource.attributes,
      resourceSchemaUrl: resource.schemaUrl,
      sender: delegate,
    }),
  });
}

/** OTEL_TRACES_SAMPLER (checked by telemetrySettings); the default, parent-based always-on, when unset. */
function sampler(sdk: typeof import('@opentelemetry/sdk-trace'), env: NodeJS.ProcessEnv) {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG?.trim() || 1);
  const root = name.endsWith('always_off')
    ? new sdk.AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new sdk.TraceIdRatioBasedSampler(ratio)
      : new sdk.AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root }) : root;
}

/** OTEL_LOG_LEVEL (checked by telemetrySettings); WARN when unset. */
function diagLevel(text: string | undefined): DiagLogLevel {
  const level = text?.trim().toUpperCase() || 'WARN';
  return DiagLogLevel[level as keyof typeof DiagLogLevel] as DiagLogLevel;
}

async function withinGrace(work: Promise<void>, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    work.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(resolve, graceMs, false).unref())),
  ]);
  clearTimeout(timer);
  return done;
}

/** How many kinds of SDK warning are remembered. */
const MAX_KINDS = 100;

/** How often one kind of SDK warning may be logged. */
export const DIAG_INTERVAL_MS = 60_000;

/**
 * The SDK's warnings and errors as log lines, each kind (its first words) at most once per
 * `intervalMs`; the next one says how many were left out meanwhile.
 */
export function rateLimitedDiag(log: Logger, intervalMs = DIAG_INTERVAL_MS, now = () => Date.now()): DiagLogger {
  const seen = new Map<string, { at: number; skipped: number }>();
  const write = (message: string, args: unknown[]) => {
    // Strings and errors only: other arguments are the SDK's objects, too long for one line.
    const printable = args.filter((a) => typeof a === 'string' || a instanceof Error);
    const text = [message, ...printable.map(messageOf)].filter(Boolean).join(' ');
    // The kind: the SDK's message (not its details), its first words, numbers taken out
    // ("Dropped 12 spans…" and "Dropped 40 spans…" are one kind).
    const kind = message.replace(/[0-9a-f]*\d[0-9a-f]*/gi, '#').slice(0, 60);
    const last = seen.get(kind);
    const time = now();
    if (last !== undefined && time - last.at < intervalMs) {
      last.skipped++;
      return;
    }
    const more = last?.skipped
      ? ` (${last.skipped} more like this in the last ${Math.round(intervalMs / 1000)} s)`
      : '';
    // Bounded: beyond this many kinds, the oldest is forgotten (and may be logged again).
    if (!seen.has(kind) && seen.size >= MAX_KINDS) seen.delete(seen.keys().next().value!);
    seen.set(kind, { at: time, skipped: 0 });
    log.error(`Telemetry: ${text}${more}; the app goes on, without what could not be exported`);
  };
  return {
    error: (message, ...args) => write(message, args),
    warn: (message, ...args) => write(message, args),
    // Below WARN only when OTEL_LOG_LEVEL asks for it: each line as it comes.
    info: (message, ...args) =>
      log.info(`Telemetry: ${[message, ...args.filter((a) => typeof a === 'string')].join(' ')}`),
    debug: (message) => log.info(`Telemetry: ${message}`),
    verbose: (message) => log.info(`Telemetry: ${message}`),
  };
}
