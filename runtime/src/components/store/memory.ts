/**
 * The in-memory Store backend, for the one-process mode and tests. Values are kept as JSON
 * text so nothing handed out shares a reference with what is stored.
 *
 * What it holds can outlive it (MemoryStoreData): a backend made over the data of an earlier one,
 * as a store reopened by a later run of changed code, keeps the contract of the PostgreSQL
 * backend: an index whose indexer's fingerprint changed is rebuilt from the values before any
 * call, and its reads see the new index whole (here nothing else runs meanwhile).
 */
import { PerKeyQueue } from '../../private/per-key-queue.ts';
import type { Json } from '../../core/json.ts';
import type { InfraError } from '../../core/errors.ts';
import { DB_SYSTEM_MEMORY } from '../../core/telemetry/attributes.ts';
import {
  compareCodePoints,
  indexEntries,
  indexerThrew,
  type IndexDefinition,
  type IndexEntry,
  type IndexHit,
  type StoreBackend,
} from './backend.ts';
import { indexerFingerprint } from './indexer-fingerprint.ts';

/** index key → store key → inline value (JSON text or undefined) */
type IndexTable = Map<string, Map<string, string | undefined>>;

/**
 * What a memory store holds: its values, and each index's entries with the fingerprint of the
 * indexer that made them.
 */
export class MemoryStoreData {
  readonly values = new Map<string, string>();
  readonly indexes = new Map<string, { fingerprint: string; table: IndexTable }>();
}

export class MemoryStoreBackend implements StoreBackend {
  readonly dbSystemName = DB_SYSTEM_MEMORY;
  readonly #values: Map<string, string>;
  /** index ID → its entries */
  readonly #indexes = new Map<string, IndexTable>();
  readonly #indexDefs: readonly IndexDefinition[];
  /** The tail of each key's queue of modify/set calls, so they apply one at a time. */
  readonly #locks = new PerKeyQueue();
  /** Set while the indexes of earlier data are checked (and rebuilt): every call waits for it. */
  #opening: Promise<void> | undefined;
  /** Index ID → why it could not be rebuilt: its reads fail with that. */
  readonly #failed = new Map<string, InfraError>();

  /**
   * Over `data` (an earlier backend's), its indexes are checked against this backend's indexers
   * before the first call; without it, the store starts empty and needs no check.
   */
  constructor(indexes: readonly IndexDefinition[], data?: MemoryStoreData) {
    this.#indexDefs = indexes;
    this.#values = data?.values ?? new Map();
    if (data === undefined) for (const index of indexes) this.#indexes.set(index.id.value, new Map());
    else this.#opening = this.#open(data);
  }

  /**
   * Takes the index tables of `data` whose indexer is unchanged, and rebuilds the others from
   * the values, each whole before it replaces the old one.
   */
  async #open(data: MemoryStoreData): Promise<void> {
    // An index this code does not have is forgotten: added back, it is built afresh.
    const ids = new Set(this.#indexDefs.map((index) => index.id.value));
    for (const id of data.indexes.keys()) if (!ids.has(id)) data.indexes.delete(id);
    for (const index of this.#indexDefs) {
      const fingerprint = await indexerFingerprint(index);
      const kept = data.indexes.get(index.id.value);
      if (kept?.fingerprint === fingerprint) {
        this.#indexes.set(index.id.value, kept.table);
        continue;
      }
      const table: IndexTable = new Map();
      this.#indexes.set(index.id.value, table);
      let current = '';
      try {
        for (const [key, text] of this.#values) {
          current = key;
          addEntries(table, key, indexEntries(index, key, JSON.parse(text) as Json));
        }
      } catch (err) {
        // Not recorded: the next backend over this data tries again (as a PostgreSQL build does).
        this.#failed.set(index.id.value, indexerThrew(index, current, err));
        continue;
      }
      data.indexes.set(index.id.value, { fingerprint, table });
    }
  }

  async get(key: string): Promise<Json | undefined> {
    if (this.#opening) await this.#opening;
    const text = this.#values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as Json);
  }

  async set(key: string, value: Json | undefined): Promise<void> {
    if (this.#opening) await this.#opening;
    return this.#locks.run(key, async () => this.#prepare(key, value)());
  }

  async setMany(entries: ReadonlyMap<string, Json | undefined>): Promise<void> {
    if (this.#opening) await this.#opening;
    return this.#locks.runAll(entries.keys(), async () => {
      // Every indexer runs before anything changes: one that throws leaves every key as it was.
      const writes = [...entries].map(([key, value]) => this.#prepare(key, value));
      for (const write of writes) write();
    });
  }

  async modify(key: string, fn: (old: Json | undefined) => Promise<Json | undefined>): Promise<Json | undefined> {
    if (this.#opening) await this.#opening;
    return this.#locks.run(key, async () => {
      const next = await fn(await this.get(key));
      this.#prepare(key, next)();
      return next === undefined ? undefined : (JSON.parse(JSON.stringify(next)) as Json);
    });
  }

  async keys(after: string | undefined, limit: number, prefix = ''): Promise<string[]> {
    if (this.#opening) await this.#opening;
    const all = [...this.#values.keys()].filter((k) => k.startsWith(prefix)).sort(compareCodePoints);
    const start = after === undefined ? 0 : all.findIndex((k) => compareCodePoints(k, after) > 0);
    return start < 0 ? [] : all.slice(start, start + limit);
  }

  async entries(after: string | undefined, limit: number, prefix = ''): Promise<[string, Json][]> {
    return (await this.keys(after, limit, prefix)).map((key) => [key, JSON.parse(this.#values.get(key)!) as Json]);
  }

  async getMany(keys: readonly string[]): Promise<(Json | undefined)[]> {
    if (this.#opening) await this.#opening;
    return keys.map((key) => {
      const text = this.#values.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as Json);
    });
  }

  async indexGet(index: IndexDefinition, indexKey: string, retrieveValues: boolean): Promise<IndexHit[]> {
    await this.#readable(index);
    const rows = this.#indexes.get(index.id.value)?.get(indexKey);
    if (!rows) return [];
    return [...rows.keys()].sort(compareCodePoints).map((key) => {
      const inline = rows.get(key);
      const hit: IndexHit = { key, inlineValue: inline === undefined ? undefined : (JSON.parse(inline) as Json) };
      if (retrieveValues) hit.value = JSON.parse(this.#values.get(key)!) as Json;
      return hit;
    });
  }

  async indexEntries(
    index: IndexDefinition,
    after: { indexKey: string; key: string } | undefined,
    limit: number,
  ): Promise<IndexEntry[]> {
    await this.#readable(index);
    const table = this.#indexes.get(index.id.value);
    const out: IndexEntry[] = [];
    if (!table) return out;
    for (const indexKey of [...table.keys()].sort(compareCodePoints)) {
      if (after !== undefined && compareCodePoints(indexKey, after.indexKey) < 0) continue;
      const rows = table.get(indexKey)!;
      for (const key of [...rows.keys()].sort(compareCodePoints)) {
        if (after !== undefined && indexKey === after.indexKey && compareCodePoints(key, after.key) <= 0) continue;
        const inline = rows.get(key);
        out.push({ indexKey, key, inlineValue: inline === undefined ? undefined : (JSON.parse(inline) as Json) });
        if (out.length === limit) return out;
      }
    }
    return out;
  }

  async open(): Promise<void> {
    if (this.#opening) await this.#opening;
  }

  async close(): Promise<void> {}

  /** Waits for the indexes to be checked; throws when `index` could not be rebuilt. */
  async #readable(index: IndexDefinition): Promise<void> {
    if (this.#opening) await this.#opening;
    const failure = this.#failed.get(index.id.value);
    if (failure) throw failure;
  }

  /**
   * Runs the indexers for writing `value` at `key` (which may throw, before anything changed)
   * and returns the write itself: synchronous, so the value and its index rows change together.
   */
  #prepare(key: string, value: Json | undefined): () => void {
    const newEntries =
      value === undefined ? [] : this.#indexDefs.map((index) => [index, indexEntries(index, key, value)] as const);
    const old = this.#values.get(key);
    // Indexers are pure (as in the proof of concept), so the old value yields the old rows; but
    // not in an index whose rebuild failed on it: there every index key is searched.
    const oldEntries =
      old === undefined
        ? []
        : this.#indexDefs.map((index) => {
            const table = this.#indexes.get(index.id.value)!;
            const indexKeys = this.#failed.has(index.id.value)
              ? [...table.keys()]
              : indexEntries(index, key, JSON.parse(old) as Json).keys();
            return [table, indexKeys] as const;
          });
    return () => {
      for (const [table, indexKeys] of oldEntries) {
        for (const indexKey of indexKeys) {
          const rows = table.get(indexKey);
          if (rows?.delete(key) && rows.size === 0) table.delete(indexKey);
        }
      }
      if (value === undefined) {
        this.#values.delete(key);
        return;
      }
      this.#values.set(key, JSON.stringify(value));
      for (const [index, entries] of newEntries) addEntries(this.#indexes.get(index.id.value)!, key, entries);
    };
  }
}

function addEntries(table: IndexTable, key: string, entries: Map<string, Json | undefined>): void {
  for (const [indexKey, inline] of entries) {
    let rows = table.get(indexKey);
    if (!rows) table.set(indexKey, (rows = new Map()));
    rows.set(key, inline === undefined ? undefined : JSON.stringify(inline));
  }
}
