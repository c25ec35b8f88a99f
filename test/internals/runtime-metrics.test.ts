/**
 * The runtime's own duration histograms (core/telemetry/metrics.ts), handed to the SDK's
 * readers as a MetricProducer: the same data points as the SDK's histogram with the same
 * buckets would give for the same values, in the reader's temporality; nothing recorded while
 * no reader is attached; attribute sets past the bound go to one overflow series.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  DURATION_BUCKETS,
  DurationHistogram,
  metricsRecording,
  RuntimeMetrics,
} from 'infra-generator/internal/core/telemetry/metrics';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const VALUES = [0, 0.001, 0.005, 0.0050001, 0.01, 0.3, 0.75, 2, 10, 10.5, 120, 0.02, 0.02];

async function collect(reader: MetricReader): Promise<MetricData[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
}

function points(metrics: MetricData[], name: string): DataPoint<Histogram>[] {
  return metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
}

test('the data points of the SDK histogram with the same buckets, for the same values', async () => {
  const ours = new DurationHistogram('test.ours.duration', 'ours');
  const runtime = new RuntimeMetrics().attach();
  const reader = new OnDemandReader({ metricProducers: [runtime] });
  const provider = new MeterProvider({ readers: [reader] });
  try {
    const sdks = provider
      .getMeter('test')
      .createHistogram('test.sdk.duration', { unit: 's', advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } });
    const attributes = { 'http.route': '/x', 'http.response.status_code': 200 };
    const series = ours.series('x 200', () => attributes);
    for (const value of VALUES) {
      series.record(value);
      sdks.record(value, attributes);
    }
    // Not a duration: ignored, as the SDK ignores a negative value on a histogram.
    series.record(-1);
    series.record(Number.NaN);
    // The runtime's producer collects its own histograms, not one a test makes: compared by hand.
    const metrics = await collect(reader);
    const [sdkPoint] = points(metrics, 'test.sdk.duration');
    assert.ok(sdkPoint);
    const cell = series.cell(0)!;
    assert.equal(cell.counts, sdkPoint.value.buckets.counts);
    assert.is(cell.count, sdkPoint.value.count);
    assert.is(cell.sum, sdkPoint.value.sum);
    assert.is(cell.min, sdkPoint.value.min);
    assert.is(cell.max, sdkPoint.value.max);
  } finally {
    await provider.shutdown();
    runtime.detach();
  }
});

test("the runtime's histograms reach the reader with their descriptor, in its temporality", async () => {
  const { httpServerDuration } = await import('infra-generator/internal/core/telemetry/metrics');
  const attributes = { 'http.route': '/metrics-test', 'infra.component.id': 'test' };
  const series = httpServerDuration.series('metrics-test', () => attributes);
  for (const temporality of ['cumulative', 'delta'] as const) {
    const runtime = new RuntimeMetrics(temporality).attach();
    const reader = new OnDemandReader({ metricProducers: [runtime] });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      series.record(0.002);
      series.record(0.2);
      const first = (await collect(reader)).find((m) => m.descriptor.name === httpServerDuration.name)!;
      assert.is(first.dataPointType, DataPointType.HISTOGRAM);
      assert.is(first.descriptor.unit, 's');
      assert.is(
        first.aggregationTemporality,
        temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      );
      const [point] = (first.dataPoints as DataPoint<Histogram>[]).filter(
        (p) => p.attributes['http.route'] === '/metrics-test',
      );
      assert.equal(point!.attributes, attributes);
      assert.equal(point!.value.buckets.boundaries, DURATION_BUCKETS);
      assert.is(point!.value.count, 2);
      series.record(1);
      const second = points(await collect(reader), httpServerDuration.name).filter(
        (p) => p.attributes['http.route'] === '/metrics-test',
      );
      // Cumulative: every record since the first; delta: those since the last collection.
      assert.is(second[0]!.value.count, temporality === 'delta' ? 1 : 3);
      assert.is(second[0]!.value.min, temporality === 'delta' ? 1 : 0.002);
      if (temporality === 'delta') assert.equal(second[0]!.startTime, point!.endTime);
      else assert.equal(second[0]!.startTime, point!.startTime);
    } finally {
      await provider.shutdown();
      runtime.detach();
    }
  }
});

test('nothing is recorded while no reader is attached', async () => {
  assert.is(metricsRecording(), false);
  const histogram = new DurationHistogram('test.idle.duration', 'idle');
  const series = histogram.series('idle', () => ({}));
  series.record(0.1);
  const runtime = new RuntimeMetrics().attach();
  try {
    assert.is(metricsRecording(), true);
    assert.is(series.cell(0), undefined, 'the record made before was not kept');
    series.record(0.1);
    assert.is(series.cell(0)!.count, 1);
  } finally {
    runtime.detach();
  }
  assert.is(metricsRecording(), false);
});

test('attribute sets past the bound share one overflow series', async () => {
  const histogram = new DurationHistogram('test.many.duration', 'many');
  const made = new Set<unknown>();
  for (let i = 0; i < 2500; i++) made.add(histogram.series(`k${i}`, () => ({ i })));
  // 2000 series of their own, then the overflow one for the rest.
  assert.is(made.size, 2001);
  const overflow = histogram.series('k2400', () => ({ i: 2400 }));
  assert.equal(overflow.attributes, { 'otel.metric.overflow': true });
  assert.is(histogram.all().length, 2001);
});

test.run();
