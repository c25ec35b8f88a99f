/**
 * The contract between the Store facade and its implementations (memory, PostgreSQL).
 * The facade checks phase, keys (keys.ts), writes from inside modify() (modify-guard.ts) and
 * JSON; a backend only stores JSON values and keeps the indexes in step, atomically with the
 * write that changes them.
 */
import { checkIndexKey } from './keys.ts';
import type { ID } from '../../core/id.ts';
import type { Json } from '../../core/json.ts';
import { errors, messageOf, type InfraError } from '../../core/errors.ts';

/** One entry an indexer yields for a value. */
export interface IndexEntryInput<I = Json> {
  indexKey: string;
  inlineValue?: I;
}

export type Indexer<T = any, I = any> = (value: T, key: string) => Iterable<IndexEntryInput<I>>;

export interface IndexDefinition {
  readonly id: ID;
  readonly indexer: Indexer;
  /** Part of the indexer's fingerprint (indexer-fingerprint.ts). */
  readonly version?: string | number;
}

/** One hit of an index lookup; `value` only when asked for. */
export interface IndexHit<T = Json, I = Json> {
  key: string;
  inlineValue: I | undefined;
  value?: T;
}

/** One row of an index, as listed whole (indexEntries). */
export interface IndexEntry<I = Json> {
  indexKey: string;
  key: string;
  inlineValue: I | undefined;
}

export interface StoreBackend {
  /** The db.system.name of the store's spans and metrics: what the data lives in. */
  readonly dbSystemName: string;
  get(key: string): Promise<Json | undefined>;
  /** Writes (or, with `undefined`, deletes) and updates every index in the same atomic step. */
  set(key: string, value: Json | undefined): Promise<void>;
  /**
   * Writes (or, where the value is `undefined`, deletes) every entry and updates the indexes, all
   * in one atomic step: another reader sees all of it or none. Two of them never wait for each
   * other: PostgreSQL's row locks are taken in code-point order, and in one process a batch
   * joins all its keys' queues at once (PerKeyQueue.runAll).
   */
  setMany(entries: ReadonlyMap<string, Json | undefined>): Promise<void>;
  /** Atomic read-modify-write: no concurrent `set` or `modify` of `key` interleaves with it. */
  modify(key: string, fn: (old: Json | undefined) => Promise<Json | undefined>): Promise<Json | undefined>;
  /**
   * Up to `limit` keys greater than `after` (from the first when undefined) that start with
   * `prefix` (every key when it is empty), in code-point order.
   */
  keys(after: string | undefined, limit: number, prefix?: string): Promise<string[]>;
  /** The same as keys(), each with its value, in one round trip. */
  entries(after: string | undefined, limit: number, prefix?: string): Promise<[string, Json][]>;
  /** The values of `keys`, in their order (undefined where there is none), in one round trip. */
  getMany(keys: readonly string[]): Promise<(Json | undefined)[]>;
  /** Index hits for `indexKey`, ordered by key; with `retrieveValues`, each with the current value. */
  indexGet(index: IndexDefinition, indexKey: string, retrieveValues: boolean): Promise<IndexHit[]>;
  /**
   * Up to `limit` rows of `index` after the row `after` (from the first when undefined), ordered
   * by index key, then key, in code-point order: an index read whole, a page at a time (the dev
   * dashboard's Stores view).
   */
  indexEntries(
    index: IndexDefinition,
    after: { indexKey: string; key: string } | undefined,
    limit: number,
  ): Promise<IndexEntry[]>;
  /**
   * Opens the store now rather than on its first call: its tables made or found, and the build
   * of an index whose indexer is new to the data started. Resolves once that is done (a build
   * goes on in the background).
   */
  open(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The index rows one value yields, checked: index keys must be strings and inline values JSON.
 * Duplicate index keys for one value keep the last inline value.
 */
export function indexEntries(index: IndexDefinition, key: string, value: Json): Map<string, Json | undefined> {
  const out = new Map<string, Json | undefined>();
  for (const entry of index.indexer(value, key)) {
    if (typeof entry?.indexKey !== 'string') {
      throw errors.invalidIndexEntry(index.id.value, entry);
    }
    // Every backend refuses what PostgreSQL cannot hold, so memory and PostgreSQL agree.
    checkIndexKey(index.id.value, entry.indexKey);
    const inline =
      entry.inlineValue === undefined ? undefined : (JSON.parse(JSON.stringify(entry.inlineValue)) as Json);
    out.set(entry.indexKey, inline);
  }
  return out;
}

/** Why an index cannot be built from the store's values: its indexer threw for the stored value of `key`. */
export function indexerThrew(index: IndexDefinition, key: string, cause: unknown): InfraError {
  return errors.indexRebuildFailed(
    index.id.value,
    `its indexer threw for the stored value of key ${JSON.stringify(key)} (${messageOf(cause)}). ` +
      'Fix the indexer so that it takes every stored value, and restart; until then reads of the index fail and writes go on',
    cause,
  );
}

/** Orders strings by Unicode code point, as PostgreSQL's "C" collation orders their UTF-8 bytes. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
