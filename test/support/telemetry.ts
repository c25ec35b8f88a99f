/**
 * What a test needs to see the runtime's telemetry: an OpenTelemetry SDK registered globally
 * that keeps spans in memory and collects metrics on demand, and the log lines as parsed JSON.
 * `stop()` unregisters all of it (the API's globals), so tests do not see each other's.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { setUpLogging } from 'infra-generator/internal/core/telemetry/log';
import { RuntimeMetrics } from 'infra-generator/internal/core/telemetry/metrics';
import { RuntimeContextManager } from 'infra-generator/internal/modes/telemetry-context-manager';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface RecordedTelemetry {
  /** The ended spans, in the order they ended. */
  spans(): ReadableSpan[];
  /** The metrics recorded so far. */
  metrics(): Promise<ResourceMetrics>;
  /** Every log line written through the root logger since recording began, parsed. */
  readonly lines: Record<string, unknown>[];
  /** The raw text of those lines (for a test that looks for a string anywhere). */
  readonly text: string[];
  stop(): Promise<void>;
}

export interface RecordOptions {
  /** false: as with OTEL_TRACES_EXPORTER=none, context and propagation but no tracer. */
  traces?: boolean;
  /**
   * The context manager: the runtime's (default), as its SDK registers it, which keeps the
   * active context with the running persona; or the API's own AsyncLocalStorage one, as an app
   * that registers its own would have.
   */
  contextManager?: 'runtime' | 'api';
}

export async function recordTelemetry(options: RecordOptions = {}): Promise<RecordedTelemetry> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager =
    options.contextManager === 'api' ? new AsyncLocalStorageContextManager() : new RuntimeContextManager();
  if (!context.setGlobalContextManager(contextManager)) throw new Error('another test left its context manager');
  contextManager.enable();
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (options.traces !== false) trace.setGlobalTracerProvider(tracerProvider);
  // The runtime's own metrics, as modes/telemetry-sdk.ts hands them to each reader.
  const runtimeMetrics = new RuntimeMetrics().attach();
  const reader = new OnDemandReader({ metricProducers: [runtimeMetrics] });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  const lines: Record<string, unknown>[] = [];
  const text: string[] = [];
  const restoreLogging = await setUpLogging({
    level: 'trace',
    format: 'json',
    app: 'test',
    destination: {
      write(line: string) {
        text.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return {
    spans: () => exporter.getFinishedSpans(),
    metrics: async () => (await reader.collect()).resourceMetrics,
    lines,
    text,
    async stop() {
      restoreLogging();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      runtimeMetrics.detach();
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The span's parent span ID (the SDK's 3.x field), or undefined for a root span. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
