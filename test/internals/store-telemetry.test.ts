/**
 * The telemetry of Stores, on both backends (memory, and the tests' PostgreSQL from
 * support/pg-admin.ts): a CLIENT span per operation, beneath the caller's span, that never
 * carries a key or a value; failed operations; the db.client.operation.duration metric; the
 * PostgreSQL pool's connection count; and the spans of deploy tasks and workers, which the
 * store calls made in them are beneath.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import { rootId, appOf, Store, StoreIndex, onDeploy, Worker, startInProcess, log } from 'infra-generator';
import { InProcessPlatform } from 'infra-generator/internal/modes/in-process/in-process';
import { createPostgresStoreBackend } from 'infra-generator/internal/components/store/postgres';
import { inSpan, SpanKind } from 'infra-generator/internal/core/telemetry/tracing';
import type { Platform } from 'infra-generator/internal/core/platform';
import { parentOf, recordTelemetry, type RecordedTelemetry } from '../support/telemetry.ts';
import { StorePlatform } from '../support/store-platform.ts';
import { adminUrl, dropTables } from '../support/pg-admin.ts';
import { rejects } from '../support/rejects.ts';

const quiet = { info() {}, error() {} };
const run = randomBytes(3).toString('hex');
let counter = 0;
/** In every key, index key and value of these tests, and so never in a span. */
const SECRET = `Zx${randomBytes(4).toString('hex')}Qv`;

interface Item {
  note: string;
  tags?: string[];
}

interface Backend {
  name: string;
  system: string;
  platform(): Platform & { close(): Promise<void> };
}

/** Every table the PostgreSQL stores of these tests created, dropped at the end. */
const tables = new Set<string>();
const closers: (() => Promise<void>)[] = [];

const backends: Backend[] = [
  {
    name: 'memory',
    system: 'infra-generator.memory',
    platform: () => new InProcessPlatform({ log: quiet, codeOutsidePersonas: 'allowed' }),
  },
  {
    name: 'PostgreSQL',
    system: 'postgresql',
    platform: () =>
      new StorePlatform((store) => {
        tables.add(store.id.sqlName);
        for (const index of store.indexes) tables.add(index.id.sqlName);
        return createPostgresStoreBackend(store, adminUrl, { log: quiet });
      }),
  },
];

/** A store with an index by tag, in a fresh app running on `backend`. */
function fixture(backend: Backend) {
  const root = rootId(`telemetry-${run}-${counter++}`);
  const store = new Store<Item>(root`items`);
  const byTag = new store.Index(root`items-by-tag`, (item) =>
    (item.tags ?? []).map((tag) => ({ indexKey: tag, inlineValue: { note: item.note } })),
  );
  const platform = backend.platform();
  appOf(root).enter('runtime', platform);
  closers.push(() => platform.close());
  return { store, byTag, platform };
}

const key = (n: number) => `key-${SECRET}-${n}`;
const item = (n: number): Item => ({ note: `value-${SECRET}-${n}`, tags: [`tag-${SECRET}`] });

/**
 * One of each operation (three sets, a modify whose function calls has(), two batches of
 * allKeys), inside an enclosing span; resolves to that span's ID.
 */
async function everyOperation(store: Store<Item>, byTag: StoreIndex<Item>): Promise<string> {
  return inSpan('enclosing', SpanKind.INTERNAL, 'test', {}, async (span) => {
    for (const n of [1, 2, 3]) await store.set(key(n), item(n));
    assert.equal(await store.get(key(1)), item(1));
    await store.modify(key(2), async (old) => ({
      ...old!,
      note: `${old!.note} and ${String(await store.has(key(1)))}`,
    }));
    await store.del(key(3));
    assert.is((await byTag.get(`tag-${SECRET}`, { retrieveValues: true })).length, 2);
    const keys: string[] = [];
    for await (const k of store.allKeys({ batchSize: 2 })) keys.push(k);
    assert.equal(keys, [key(1), key(2)]);
    return span.spanContext().spanId;
  });
}

function storeSpans(rec: RecordedTelemetry, storeId: string): ReadableSpan[] {
  return rec.spans().filter((s) => s.attributes['db.collection.name'] === storeId);
}

async function histogramPoints(rec: RecordedTelemetry, name: string): Promise<DataPoint<Histogram>[]> {
  const metrics = (await rec.metrics()).scopeMetrics.flatMap((scope) => scope.metrics);
  return metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
}

/** The pool's connection counts by state, as the metrics report them now. */
async function connections(rec: RecordedTelemetry, pool: string): Promise<Record<string, number>> {
  const metrics = (await rec.metrics()).scopeMetrics.flatMap((scope) => scope.metrics);
  const counts: Record<string, number> = {};
  for (const metric of metrics.filter((m) => m.descriptor.name === 'db.client.connection.count'))
    for (const point of metric.dataPoints as DataPoint<number>[])
      if (point.attributes['db.client.connection.pool.name'] === pool)
        counts[point.attributes['db.client.connection.state'] as string] = point.value;
  return counts;
}

/**
 * Waits (a second at most) until the pool has no connection in use and some idle: slonik
 * returns a connection to the pool just after the call that used it has resolved.
 */
async function settled(rec: RecordedTelemetry, pool: string): Promise<Record<string, number>> {
  let counts = await connections(rec, pool);
  for (let i = 0; i < 100 && !(counts.used === 0 && counts.idle > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    counts = await connections(rec, pool);
  }
  return counts;
}

const test = suite('Store telemetry');

test.after(async () => {
  await Promise.all(closers.map((close) => close()));
  await dropTables(tables);
});

for (const backend of backends) {
  test(`${backend.name}: every operation is a CLIENT span named {operation} {store}, beneath its caller's span`, async () => {
    const rec = await recordTelemetry();
    try {
      const { store, byTag } = fixture(backend);
      const id = store.id.value;
      const enclosing = await everyOperation(store, byTag);
      const spans = storeSpans(rec, id);
      const operations = spans.map((s) => s.attributes['db.operation.name']);
      assert.equal(operations.toSorted(), [
        'allKeys',
        'allKeys',
        'del',
        'get',
        'has',
        'index.get',
        'modify',
        'set',
        'set',
        'set',
      ]);
      const modify = spans.find((s) => s.name === `modify ${id}`)!;
      for (const span of spans) {
        const operation = span.attributes['db.operation.name'] as string;
        assert.is(span.name, `${operation} ${id}`);
        assert.is(span.kind, SpanKind.CLIENT, span.name);
        assert.is(span.status.code, SpanStatusCode.UNSET, span.name);
        assert.equal(
          span.attributes,
          {
            'db.system.name': backend.system,
            'db.operation.name': operation,
            'db.collection.name': id,
            'infra.component.id': id,
            ...(operation === 'index.get' ? { 'infra.index.id': byTag.id.value } : {}),
          },
          span.name,
        );
        // has() was called from modify()'s function, which runs inside the modify span.
        assert.is(parentOf(span), operation === 'has' ? modify.spanContext().spanId : enclosing, span.name);
        assert.is(span.spanContext().traceId, modify.spanContext().traceId);
      }
    } finally {
      await rec.stop();
    }
  });

  test(`${backend.name}: no span holds a key, an index key or a value`, async () => {
    const rec = await recordTelemetry();
    try {
      const { store, byTag } = fixture(backend);
      await everyOperation(store, byTag);
      const spans = rec.spans();
      assert.ok(storeSpans(rec, store.id.value).length >= 10);
      for (const span of spans) {
        const text = JSON.stringify({
          name: span.name,
          attributes: span.attributes,
          events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
          status: span.status,
          links: span.links,
        });
        assert.not.ok(text.includes(SECRET), `span ${span.name} holds test data: ${text}`);
      }
    } finally {
      await rec.stop();
    }
  });

  test(`${backend.name}: a failed operation fails its span, and its span and duration carry error.type`, async () => {
    const rec = await recordTelemetry();
    try {
      const { store, byTag } = fixture(backend);
      const id = store.id.value;
      await rejects(
        store.modify(key(1), () => {
          throw new RangeError('refused by the test');
        }),
        /refused by the test/,
      );
      await rejects(
        store.modify(key(2), () => (() => 1) as unknown as Item),
        /JSON/,
      );
      // A key the caller got wrong is refused before any span (it is the caller's mistake, and
      // a deployed store may not even have a database to name).
      await rejects(store.get(''), /a key must be a non-empty string/);
      await rejects(byTag.get(42 as unknown as string), /takes a string index key/);
      // The failures' messages name the key; the spans hold only the errors' types.
      const recorded = JSON.stringify(storeSpans(rec, id).map((s) => [s.status, s.events, s.attributes]));
      assert.not.ok(recorded.includes(SECRET), recorded);
      assert.not.ok(recorded.includes('refused by the test'), recorded);
      const failed = storeSpans(rec, id).map((s) => [
        s.name,
        s.status.code,
        s.attributes['error.type'],
        s.events.map((e) => e.name),
      ]);
      assert.equal(failed, [
        [`modify ${id}`, SpanStatusCode.ERROR, 'RangeError', ['exception']],
        [`modify ${id}`, SpanStatusCode.ERROR, 'INFRA_NOT_JSON', ['exception']],
      ]);
      const points = (await histogramPoints(rec, 'db.client.operation.duration')).filter(
        (p) => p.attributes['infra.component.id'] === id,
      );
      assert.equal(
        points.map((p) => [p.attributes['db.operation.name'], p.attributes['error.type'], p.value.count]),
        [
          ['modify', 'RangeError', 1],
          ['modify', 'INFRA_NOT_JSON', 1],
        ],
      );
    } finally {
      await rec.stop();
    }
  });

  test(`${backend.name}: db.client.operation.duration has a point per operation, in seconds`, async () => {
    const rec = await recordTelemetry();
    try {
      const { store, byTag } = fixture(backend);
      const id = store.id.value;
      const started = performance.now();
      await everyOperation(store, byTag);
      const elapsed = (performance.now() - started) / 1000;
      const points = (await histogramPoints(rec, 'db.client.operation.duration')).filter(
        (p) => p.attributes['infra.component.id'] === id,
      );
      const counts: Record<string, number> = {};
      for (const point of points) {
        const operation = point.attributes['db.operation.name'] as string;
        assert.equal(point.attributes, {
          'db.system.name': backend.system,
          'db.operation.name': operation,
          'db.collection.name': id,
          'infra.component.id': id,
        });
        assert.ok(point.value.sum! > 0 && point.value.max! <= elapsed, `${operation} lasted ${point.value.max} s`);
        counts[operation] = point.value.count;
      }
      assert.equal(counts, { set: 3, get: 1, has: 1, modify: 1, del: 1, 'index.get': 1, allKeys: 2 });
    } finally {
      await rec.stop();
    }
  });
}

test('PostgreSQL: db.client.connection.count reports the pool used and idle while the store is open, and stops at close', async () => {
  const rec = await recordTelemetry();
  const { store, platform } = fixture(backends[1]);
  const id = store.id.value;
  try {
    await store.set(key(1), item(1));
    const idle = await settled(rec, id);
    assert.is(idle.used, 0);
    assert.ok(idle.idle >= 1, `${idle.idle} idle`);
    let entered!: () => void;
    const inFunction = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const modifying = store.modify(key(1), async (old) => {
      entered();
      await released;
      return old;
    });
    await inFunction;
    // modify()'s transaction holds a connection while its function runs.
    assert.equal(await connections(rec, id), { used: 1, idle: idle.idle - 1 });
    release();
    await modifying;
    assert.equal(await settled(rec, id), idle);
    await platform.close();
  } finally {
    await rec.stop();
  }
  // A fresh SDK's first collection: the closed store's pool is no longer observed.
  const again = await recordTelemetry();
  try {
    assert.equal(await connections(again, id), {});
  } finally {
    await again.stop();
  }
});

test('a deploy task is the root span of its trace, with the store spans of its function beneath it', async () => {
  const rec = await recordTelemetry();
  try {
    const root = rootId(`telemetry-deploy-${run}`);
    const store = new Store<Item>(root`items`);
    const task = onDeploy(root`seed`, async () => {
      await store.set(key(1), item(1));
      await store.get(key(1));
      log.info('seeded');
    });
    const started = startInProcess(root, { log: quiet });
    try {
      await started.start(task);
    } finally {
      await started.stop();
    }
    const span = rec.spans().find((s) => s.name === `deploy ${task.id.value}`);
    assert.ok(span, 'the task has a span');
    assert.is(span.kind, SpanKind.INTERNAL);
    assert.is(parentOf(span), undefined);
    assert.is(span.attributes['infra.component.id'], task.id.value);
    const children = storeSpans(rec, store.id.value);
    assert.equal(
      children.map((s) => s.name),
      [`set ${store.id.value}`, `get ${store.id.value}`],
    );
    for (const child of children) assert.is(parentOf(child), span.spanContext().spanId);
    const line = rec.lines.find((l) => l.msg === 'seeded');
    assert.is(line?.component, task.id.value, 'its log lines name the task');
    assert.is(line?.span_id, span.spanContext().spanId);
  } finally {
    await rec.stop();
  }
});

test("a worker's calls are each a trace's root (no span lasts its whole run); its lines name it", async () => {
  const rec = await recordTelemetry();
  try {
    const root = rootId(`telemetry-worker-${run}`);
    const store = new Store<Item>(root`items`);
    const worker = new Worker(root`consumer`, async () => {
      await store.set(key(1), item(1));
      await store.set(key(2), item(2));
      log.info('consumed');
      throw new Error('the queue went away');
    });
    const started = startInProcess(root, { log: quiet });
    try {
      await rejects(started.start(worker), /the queue went away/);
    } finally {
      await started.stop();
    }
    assert.not.ok(rec.spans().some((s) => s.name === `worker ${worker.id.value}`));
    const children = storeSpans(rec, store.id.value);
    assert.is(children.length, 2);
    assert.ok(children.every((s) => parentOf(s) === undefined));
    assert.is.not(children[0].spanContext().traceId, children[1].spanContext().traceId);
    assert.is(rec.lines.find((l) => l.msg === 'consumed')?.component, worker.id.value);
  } finally {
    await rec.stop();
  }
});

test.run();
