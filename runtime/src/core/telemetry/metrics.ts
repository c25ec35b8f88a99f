/**
 * The runtime's metrics: the durations of the requests an ApiServer serves, of the calls a
 * client makes, of Store operations, of publishes and of handlers' attempts at messages
 * (histograms with the conventions' buckets), and the
 * connections of each Store pool. They are aggregated here and handed to the OpenTelemetry SDK's
 * metric readers as a MetricProducer, the SDK's own way in for metrics it does not aggregate
 * (modes/telemetry-sdk.ts attaches one to each reader; the readers export them as their own).
 *
 * Why not the SDK's histograms: its instruments have no bound form, so each record hashes its
 * attributes (their keys listed, sorted and written as JSON) to find its series: 1.6 KB and
 * about 1.5 µs per record, on both sides of every API call. Here a caller keeps the series of
 * an attribute set (an endpoint and a status, a store operation) and a record is a few
 * additions. Nothing is recorded while no reader is attached (telemetry not configured).
 *
 * Types only from the SDK: this module is loaded by every app, the SDK only by those exporting.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type {
  AggregationTemporality,
  CollectionResult,
  DataPointType,
  MetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import {
  ATTR_ERROR_TYPE,
  ATTR_DB_CONNECTION_STATE,
  ATTR_DB_POOL_NAME,
  METRIC_DB_CLIENT_CONNECTION_COUNT,
  METRIC_DB_CLIENT_OPERATION_DURATION,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_PROCESS_DURATION,
} from './attributes.ts';
import { INSTRUMENTATION_SCOPE } from './tracing.ts';

/** Seconds: the conventions' bucket boundaries for request durations. */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** The SDK's enum values (its enums are values; this module imports its types only). */
const HISTOGRAM_POINTS = 0 as DataPointType.HISTOGRAM;
const SUM_POINTS = 3 as DataPointType.SUM;
const DELTA = 0 as AggregationTemporality.DELTA;
const CUMULATIVE = 1 as AggregationTemporality.CUMULATIVE;
const DOUBLE = 1; // ValueType.DOUBLE
const INT = 0; // ValueType.INT

/** Series a histogram keeps at most; records of further attribute sets go to one overflow series. */
const MAX_SERIES = 2000;
/** The specification's attribute of the series that takes what is over a cardinality limit. */
const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

function hrTimeNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.trunc(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** One reader's aggregation of one series since its start. */
class Cell {
  readonly counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  start: HrTime;
  constructor(start: HrTime) {
    this.start = start;
  }
}

/**
 * The readers attached now, each collecting every series. `generation` changes with them: a
 * series then drops its cells and makes one per reader at its next record (readers come and
 * go when telemetry starts and stops, not while it runs).
 */
const collectors: RuntimeMetrics[] = [];
let generation = 0;

/** Whether any reader collects the runtime's metrics: a caller may skip what it would only record. */
export function metricsRecording(): boolean {
  return collectors.length > 0;
}

/** One attribute set of a histogram: what a caller keeps and records on. */
export class DurationSeries {
  readonly attributes: Attributes;
  #cells: Cell[] = [];
  #generation = -1;

  constructor(attributes: Attributes) {
    this.attributes = attributes;
  }

  /** Records `seconds` for every attached reader; nothing when none is. */
  record(seconds: number): void {
    if (collectors.length === 0 || !(seconds >= 0)) return;
    if (this.#generation !== generation) {
      const now = hrTimeNow();
      this.#cells = collectors.map(() => new Cell(now));
      this.#generation = generation;
    }
    // The first boundary at or above the value (boundaries are upper bounds, inclusive), as the SDK counts.
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && DURATION_BUCKETS[bucket]! < seconds) bucket++;
    for (const cell of this.#cells) {
      cell.counts[bucket]!++;
      cell.count++;
      cell.sum += seconds;
      if (seconds < cell.min) cell.min = seconds;
      if (seconds > cell.max) cell.max = seconds;
    }
  }

  /** Records the time since `startedAt` (a performance.now() reading). */
  recordSince(startedAt: number): void {
    if (collectors.length !== 0) this.record((performance.now() - startedAt) / 1000);
  }

  /** The cell of the reader at `index`, if this series recorded since the readers last changed. */
  cell(index: number): Cell | undefined {
    return this.#generation === generation ? this.#cells[index] : undefined;
  }
}

export class DurationHistogram {
  readonly name: string;
  readonly description: string;
  readonly #series = new Map<string, DurationSeries>();
  #overflow: DurationSeries | undefined;

  constructor(name: string, description: string) {
    this.name = name;
    this.description = description;
  }

  /**
   * The series of `attributes`, named by `key` (the caller's: a string that tells attribute
   * sets apart). Keep it: finding it again costs a lookup that recording does not.
   */
  series(key: string, attributes: () => Attributes): DurationSeries {
    let series = this.#series.get(key);
    if (series === undefined) {
      if (this.#series.size >= MAX_SERIES) return (this.#overflow ??= new DurationSeries(OVERFLOW_ATTRIBUTES));
      series = new DurationSeries(Object.freeze(attributes()));
      this.#series.set(key, series);
    }
    return series;
  }

  /** Every series, the overflow one last. */
  all(): DurationSeries[] {
    const all = [...this.#series.values()];
    if (this.#overflow) all.push(this.#overflow);
    return all;
  }
}

/**
 * The series of one operation (a store's get, a topic's publish) in a histogram: its own, and one
 * per error type of its failures (with `error.type`), each found once and then kept.
 */
export class OperationSeries {
  readonly #histogram: DurationHistogram;
  /** The series' name in the histogram, made only when one is first looked for. */
  readonly #key: () => string;
  readonly #attributes: Attributes;
  #ok: DurationSeries | undefined;
  readonly #failed = new Map<string, DurationSeries>();

  constructor(histogram: DurationHistogram, key: () => string, attributes: Attributes) {
    this.#histogram = histogram;
    this.#key = key;
    this.#attributes = attributes;
  }

  /** The operation's series, or that of its failures of `errorType`. */
  of(errorType?: string): DurationSeries {
    if (errorType === undefined) return (this.#ok ??= this.#histogram.series(this.#key(), () => this.#attributes));
    let series = this.#failed.get(errorType);
    if (series === undefined) {
      series = this.#histogram.series(`${this.#key()} ${errorType}`, () => ({
        ...this.#attributes,
        [ATTR_ERROR_TYPE]: errorType,
      }));
      // Error types are few (codes and classes); a bound all the same.
      if (this.#failed.size < 100) this.#failed.set(errorType, series);
    }
    return series;
  }
}

/** Seconds, per route, method and status (the conventions' unit). */
export const httpServerDuration = new DurationHistogram(
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  'Duration of HTTP requests an ApiServer served',
);
export const httpClientDuration = new DurationHistogram(
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  'Duration of calls to ApiServers over HTTP',
);
/** Seconds, per store and operation. */
export const dbOperationDuration = new DurationHistogram(
  METRIC_DB_CLIENT_OPERATION_DURATION,
  'Duration of Store operations',
);

/** Seconds, per topic (a publish). */
export const messagingPublishDuration = new DurationHistogram(
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  'Duration of publishing a message to a Topic',
);
/** Seconds, per subscription (a handler's attempt at a message). */
export const messagingProcessDuration = new DurationHistogram(
  METRIC_MESSAGING_PROCESS_DURATION,
  "Duration of a Subscription's handler at a message",
);

const histograms = [
  httpServerDuration,
  httpClientDuration,
  dbOperationDuration,
  messagingPublishDuration,
  messagingProcessDuration,
];

/** A connection pool's state when metrics are collected: connections in use and idle. */
export type PoolUsage = () => { used: number; idle: number };

const pools = new Map<string, PoolUsage>();

/** Reports `name`'s pool usage with the metrics until the returned function is called. */
export function observePool(name: string, usage: PoolUsage): () => void {
  pools.set(name, usage);
  return () => {
    if (pools.get(name) === usage) pools.delete(name);
  };
}

/**
 * What one metric reader collects of the runtime's metrics, in the temporality it asks for
 * (its exporter's preference, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE): cumulative
 * series count from their first record; delta ones from the last collection, and start again.
 */
export class RuntimeMetrics implements MetricProducer {
  readonly #temporality: AggregationTemporality;
  readonly #started = hrTimeNow();

  constructor(temporality: 'cumulative' | 'delta' = 'cumulative') {
    this.#temporality = temporality === 'delta' ? DELTA : CUMULATIVE;
  }

  /** Starts collecting: records from now on reach this reader. */
  attach(): this {
    if (!collectors.includes(this)) {
      collectors.push(this);
      generation++;
    }
    return this;
  }

  /** Stops collecting (the reader shut down). */
  detach(): void {
    const index = collectors.indexOf(this);
    if (index < 0) return;
    collectors.splice(index, 1);
    generation++;
  }

  async collect(): Promise<CollectionResult> {
    const index = collectors.indexOf(this);
    const now = hrTimeNow();
    const metrics: MetricData[] = [];
    for (const histogram of index < 0 ? [] : histograms) {
      const dataPoints = [];
      for (const series of histogram.all()) {
        const cell = series.cell(index);
        if (cell === undefined || cell.count === 0) continue;
        dataPoints.push({
          startTime: cell.start,
          endTime: now,
          attributes: series.attributes,
          value: {
            buckets: { boundaries: [...DURATION_BUCKETS], counts: [...cell.counts] },
            count: cell.count,
            sum: cell.sum,
            min: cell.min,
            max: cell.max,
          },
        });
        if (this.#temporality === DELTA) {
          cell.counts.fill(0);
          cell.count = 0;
          cell.sum = 0;
          cell.min = Infinity;
          cell.max = -Infinity;
          cell.start = now;
        }
      }
      if (dataPoints.length === 0) continue;
      metrics.push({
        descriptor: {
          name: histogram.name,
          description: histogram.description,
          unit: 's',
          valueType: DOUBLE,
        },
        aggregationTemporality: this.#temporality,
        dataPointType: HISTOGRAM_POINTS,
        dataPoints,
      });
    }
    if (index >= 0 && pools.size > 0) {
      const dataPoints = [];
      for (const [name, usage] of pools) {
        const { used, idle } = usage();
        for (const [state, value] of [
          ['used', used],
          ['idle', idle],
        ] as const)
          dataPoints.push({
            startTime: this.#started,
            endTime: now,
            attributes: { [ATTR_DB_POOL_NAME]: name, [ATTR_DB_CONNECTION_STATE]: state },
            value,
          });
      }
      // An up-down count: cumulative whatever the preference, as the SDK reports one.
      metrics.push({
        descriptor: {
          name: METRIC_DB_CLIENT_CONNECTION_COUNT,
          description: 'Database connections of each Store pool, by state (used, idle)',
          unit: '{connection}',
          valueType: INT,
        },
        aggregationTemporality: CUMULATIVE,
        dataPointType: SUM_POINTS,
        isMonotonic: false,
        dataPoints,
      });
    }
    return {
      // The reader keeps its own resource (its MeterProvider's) and takes only the scopes.
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: { name: INSTRUMENTATION_SCOPE }, metrics }],
      },
      errors: [],
    };
  }
}
