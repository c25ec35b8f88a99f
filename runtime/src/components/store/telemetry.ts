/**
 * The spans and the db.client.operation.duration metric of Store calls. Each operation's span
 * name and attribute sets are made once per store (and index), not per call: a store call must
 * stay close to a hand-written query's cost, and with no SDK registered what is left per call is
 * the API's no-op span and histogram.
 *
 * Neither keys nor values are recorded: a key is often personal data (an e-mail address, a
 * customer number), and the store and operation say what the call was.
 */
import type { Attributes } from '@opentelemetry/api';
import { errorTypeOf, inSpan, tracing, SpanKind } from '../../core/telemetry/tracing.ts';
import {
  dbOperationDuration,
  metricsRecording,
  OperationSeries,
  type DurationSeries,
} from '../../core/telemetry/metrics.ts';
import {
  ATTR_COMPONENT_ID,
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_INDEX_ID,
} from '../../core/telemetry/attributes.ts';

/** db.operation.name of each Store call (an index lookup is `index.get`). */
export type StoreOperationName =
  'get' | 'getMany' | 'set' | 'setMany' | 'has' | 'del' | 'modify' | 'allKeys' | 'entries';

/** One operation of one store, as its spans and measurements name it. */
export class StoreOperation {
  readonly storeId: string;
  /** `{db.operation.name} {db.collection.name}`, the conventions' span name. */
  readonly spanName: string;
  readonly spanAttributes: Attributes;
  readonly metricAttributes: Attributes;
  readonly #series: OperationSeries;

  constructor(storeId: string, dbSystem: string, operation: string, indexId?: string) {
    this.storeId = storeId;
    this.spanName = `${operation} ${storeId}`;
    // The store's ID, not its table's name: it is what the app calls it, the same in every mode.
    const common = {
      [ATTR_DB_SYSTEM_NAME]: dbSystem,
      [ATTR_DB_OPERATION_NAME]: operation,
      [ATTR_DB_COLLECTION_NAME]: storeId,
    };
    // inSpan adds the component ID to the span itself. Frozen: made once, shared by every call.
    this.spanAttributes = Object.freeze(indexId === undefined ? common : { ...common, [ATTR_INDEX_ID]: indexId });
    this.metricAttributes = Object.freeze({ ...common, [ATTR_COMPONENT_ID]: storeId });
    this.#series = new OperationSeries(
      dbOperationDuration,
      () => `${this.spanName} ${dbSystem}`,
      this.metricAttributes,
    );
  }

  /** The duration series of the operation, or of its failures of `errorType`. */
  series(errorType?: string): DurationSeries {
    return this.#series.of(errorType);
  }
}

/** Every operation of the store `storeId`, whose backend's db.system.name is `dbSystem`. */
export function storeOperations(storeId: string, dbSystem: string): Record<StoreOperationName, StoreOperation> {
  const of = (operation: StoreOperationName) => new StoreOperation(storeId, dbSystem, operation);
  return {
    get: of('get'),
    getMany: of('getMany'),
    set: of('set'),
    setMany: of('setMany'),
    has: of('has'),
    del: of('del'),
    modify: of('modify'),
    allKeys: of('allKeys'),
    entries: of('entries'),
  };
}

/** The lookup operation of the index `indexId` of the store `storeId`. */
export function indexGetOperation(storeId: string, dbSystem: string, indexId: string): StoreOperation {
  return new StoreOperation(storeId, dbSystem, 'index.get', indexId);
}

/**
 * Runs `work` in `operation`'s span (a CLIENT span, failed if `work` throws, with error.type)
 * and records its duration: one async step besides the span's own.
 */
export function traced<R>(operation: StoreOperation, work: () => Promise<R>): Promise<R> {
  // Neither traced nor measured (telemetry not configured): no wrapper, no async step.
  if (!tracing() && !metricsRecording()) return work();
  const { spanName, storeId, spanAttributes } = operation;
  return inSpan(
    spanName,
    SpanKind.CLIENT,
    storeId,
    spanAttributes,
    async (span) => {
      const startedAt = performance.now();
      try {
        const result = await work();
        operation.series().recordSince(startedAt);
        return result;
      } catch (err) {
        const type = errorTypeOf(err);
        span.setAttribute(ATTR_ERROR_TYPE, type);
        operation.series(type).recordSince(startedAt);
        throw err;
      }
      // A store's errors name the key (and an app's own, in modify's function, may hold a value).
    },
    'type',
  );
}
