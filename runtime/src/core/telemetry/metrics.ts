/**
 * The runtime's metrics, through the OpenTelemetry API. The API has no stand-in meter that
 * starts recording once an SDK registers (as it has for tracers), so the instruments are made
 * from the meter provider registered at the time of use, and made again if that changes.
 */
import { createNoopMeter, metrics, type Attributes, type Histogram, type MeterProvider } from '@opentelemetry/api';
import {
  ATTR_DB_CONNECTION_STATE,
  ATTR_DB_POOL_NAME,
  METRIC_DB_CLIENT_CONNECTION_COUNT,
  METRIC_DB_CLIENT_OPERATION_DURATION,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from './attributes.ts';
import { INSTRUMENTATION_SCOPE } from './tracing.ts';

export interface Instruments {
  /**
   * False while no SDK records metrics (the API's no-op meter): a caller may then skip making
   * what it would record, such as a request's attributes.
   */
  readonly recording: boolean;
  /** Seconds, per route, method and status (the conventions' unit). */
  readonly httpServerDuration: Histogram;
  readonly httpClientDuration: Histogram;
  /** Seconds, per store and operation. */
  readonly dbOperationDuration: Histogram;
}

/** A connection pool's state when metrics are collected: connections in use and idle. */
export type PoolUsage = () => { used: number; idle: number };

const pools = new Map<string, PoolUsage>();
let made: { provider: MeterProvider; instruments: Instruments } | undefined;

/** The API's no-op meter's class (the API exports a maker of it, not the class). */
const NoopMeter = createNoopMeter().constructor;

/** Seconds: the conventions' bucket boundaries for request durations. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (made?.provider === provider) return made.instruments;
  const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
  const instruments: Instruments = {
    recording: !(meter instanceof NoopMeter),
    httpServerDuration: histogram(METRIC_HTTP_SERVER_REQUEST_DURATION, 'Duration of HTTP requests an ApiServer served'),
    httpClientDuration: histogram(METRIC_HTTP_CLIENT_REQUEST_DURATION, 'Duration of calls to ApiServers over HTTP'),
    dbOperationDuration: histogram(METRIC_DB_CLIENT_OPERATION_DURATION, 'Duration of Store operations'),
  };
  meter
    .createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_COUNT, {
      unit: '{connection}',
      description: 'Database connections of each Store pool, by state (used, idle)',
    })
    .addCallback((result) => {
      for (const [name, usage] of pools) {
        const { used, idle } = usage();
        result.observe(used, { [ATTR_DB_POOL_NAME]: name, [ATTR_DB_CONNECTION_STATE]: 'used' });
        result.observe(idle, { [ATTR_DB_POOL_NAME]: name, [ATTR_DB_CONNECTION_STATE]: 'idle' });
      }
    });
  made = { provider, instruments };
  return instruments;
}

/** Reports `name`'s pool usage with the metrics until the returned function is called. */
export function observePool(name: string, usage: PoolUsage): () => void {
  pools.set(name, usage);
  return () => {
    if (pools.get(name) === usage) pools.delete(name);
  };
}

/** Records `startedAt` (from performance.now()) until now, in seconds, on `histogram`. */
export function recordDuration(histogram: Histogram, startedAt: number, attributes: Attributes): void {
  histogram.record((performance.now() - startedAt) / 1000, attributes);
}
