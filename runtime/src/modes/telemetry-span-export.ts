/**
 * Ended spans, encoded, batched and sent, as the SDK's BatchSpanProcessor does and by its
 * variables (OTEL_BSP_MAX_QUEUE_SIZE, _MAX_EXPORT_BATCH_SIZE, _SCHEDULE_DELAY, _EXPORT_TIMEOUT):
 * a batch goes when it is full or when it is SCHEDULE_DELAY old, one export at a time; spans
 * past the queue's bound are dropped and counted (told by the diagnostic logger, which the
 * persona rate-limits), so a collector that is slow or down never makes the app wait or grow.
 *
 * Sending is the SDK's own OTLP/HTTP transport (@opentelemetry/otlp-exporter-base), which reads
 * the OTEL_EXPORTER_OTLP_* variables (endpoint, headers, compression, timeout) and retries.
 */
import { diag } from '@opentelemetry/api';
import { messageOf } from '../core/errors.ts';
import type { EndedSpans } from './telemetry-tracer.ts';
import {
  exportRequest,
  ProtoWriter,
  resourceBytes,
  scopeBytes,
  writeSpan,
  type ScopeFields,
  type SpanFields,
} from './telemetry-span-encoding.ts';

export interface BatchSettings {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

/** The SDK's defaults for its BatchSpanProcessor. */
export const DEFAULT_BATCH_SETTINGS: BatchSettings = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30_000,
};

/** One request's body: an ExportTraceServiceRequest, and how many spans it holds. */
export interface SpanRequest {
  readonly bytes: Uint8Array;
  readonly spans: number;
}

/** What sends a request (the SDK's OTLP export delegate): its outcome comes to `done`. */
export interface RequestSender {
  export(request: SpanRequest, done: (result: { code: number; error?: Error }) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The spans of one scope waiting in the batch being filled. */
interface ScopeWriter {
  readonly scope: Buffer;
  readonly schemaUrl?: string;
  readonly writer: ProtoWriter;
}

export class SpanBatches implements EndedSpans {
  readonly #settings: BatchSettings;
  readonly #resource: Buffer;
  readonly #resourceSchemaUrl: string | undefined;
  readonly #sender: RequestSender;
  /** The batch being filled, by scope (tracers are few and long-lived: a Map by identity). */
  readonly #filling = new Map<ScopeFields, ScopeWriter>();
  #fillingCount = 0;
  /** Batches made and not yet handed to the sender. */
  readonly #ready: SpanRequest[] = [];
  #readyCount = 0;
  #sending: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;
  #stopped = false;

  constructor(options: {
    settings: BatchSettings;
    resourceAttributes: Record<string, unknown>;
    resourceSchemaUrl?: string;
    sender: RequestSender;
  }) {
    this.#settings = options.settings;
    if (this.#settings.maxExportBatchSize > this.#settings.maxQueueSize)
      this.#settings = { ...this.#settings, maxExportBatchSize: this.#settings.maxQueueSize };
    this.#resource = resourceBytes(options.resourceAttributes as never);
    this.#resourceSchemaUrl = options.resourceSchemaUrl;
    this.#sender = options.sender;
  }

  add(scope: ScopeFields, span: SpanFields): void {
    if (this.#stopped) return;
    if (this.#fillingCount + this.#readyCount >= this.#settings.maxQueueSize) {
      if (this.#dropped++ === 0)
        diag.warn('Dropped spans: the export queue is full (more spans than the collector takes)');
      return;
    }
    let filling = this.#filling.get(scope);
    if (filling === undefined) {
      filling = { scope: scopeBytes(scope), schemaUrl: scope.schemaUrl, writer: new ProtoWriter() };
      this.#filling.set(scope, filling);
    }
    writeSpan(filling.writer, span);
    if (++this.#fillingCount >= this.#settings.maxExportBatchSize) {
      this.#seal();
      this.#sendNext();
    } else
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#seal();
        this.#sendNext();
      }, this.#settings.scheduledDelayMillis).unref();
  }

  /** The batch being filled, made a request and queued. */
  #seal(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#fillingCount === 0) return;
    const scopes = [...this.#filling.values()].map(({ scope, schemaUrl, writer }) => ({
      scope,
      schemaUrl,
      spans: writer.bytes(),
    }));
    const bytes = exportRequest(this.#resource, scopes, this.#resourceSchemaUrl);
    for (const { writer } of this.#filling.values()) writer.pos = 0;
    this.#ready.push({ bytes, spans: this.#fillingCount });
    this.#readyCount += this.#fillingCount;
    this.#fillingCount = 0;
  }

  /** Sends the oldest ready request, unless one is being sent (then after it). */
  #sendNext(): void {
    if (this.#sending !== undefined) return;
    const request = this.#ready.shift();
    if (request === undefined) return;
    this.#readyCount -= request.spans;
    if (this.#dropped > 0) {
      diag.warn(`Dropped ${this.#dropped} spans since the last export: the export queue was full`);
      this.#dropped = 0;
    }
    this.#sending = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        diag.error(`Exporting ${request.spans} spans timed out after ${this.#settings.exportTimeoutMillis} ms`);
        resolve();
      }, this.#settings.exportTimeoutMillis).unref();
      try {
        this.#sender.export(request, (result) => {
          clearTimeout(timer);
          // ExportResultCode.FAILED; the transport has retried what could be.
          if (result.code !== 0)
            diag.error(
              `Exporting ${request.spans} spans failed: ${result.error === undefined ? 'no reason given' : messageOf(result.error)}`,
            );
          resolve();
        });
      } catch (err) {
        clearTimeout(timer);
        diag.error(`Exporting ${request.spans} spans failed: ${messageOf(err)}`);
        resolve();
      }
    }).then(() => {
      this.#sending = undefined;
      this.#sendNext();
    });
  }

  /** Sends every span ended so far; resolves when the last request is answered. */
  async forceFlush(): Promise<void> {
    this.#seal();
    this.#sendNext();
    while (this.#sending !== undefined) await this.#sending;
    await this.#sender.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    await this.forceFlush();
    this.#stopped = true;
    await this.#sender.shutdown();
  }
}
