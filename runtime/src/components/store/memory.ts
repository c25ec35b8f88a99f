/**
 * The in-memory Store backend, for the one-process mode and tests. Values are kept as JSON
 * text so nothing handed out shares a reference with what is stored.
 */
import { PerKeyQueue } from '../../private/per-key-queue.ts';
import type { Json } from '../../core/json.ts';
import { DB_SYSTEM_MEMORY } from '../../core/telemetry/attributes.ts';
import {
  compareCodePoints,
  indexEntries,
  type IndexDefinition,
  type IndexEntry,
  type IndexHit,
  type StoreBackend,
} from './backend.ts';

export class MemoryStoreBackend implements StoreBackend {
  readonly dbSystemName = DB_SYSTEM_MEMORY;
  readonly #values = new Map<string, string>();
  /** index ID → index key → store key → inline value (JSON text or undefined) */
  readonly #indexes = new Map<string, Map<string, Map<string, string | undefined>>>();
  readonly #indexDefs: readonly IndexDefinition[];
  /** The tail of each key's queue of modify/set calls, so they apply one at a time. */
  readonly #locks = new PerKeyQueue();

  constructor(indexes: readonly IndexDefinition[]) {
    this.#indexDefs = indexes;
    for (const index of indexes) this.#indexes.set(index.id.value, new Map());
  }

  async get(key: string): Promise<Json | undefined> {
    const text = this.#values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as Json);
  }

  set(key: string, value: Json | undefined): Promise<void> {
    return this.#locks.run(key, async () => this.#prepare(key, value)());
  }

  setMany(entries: ReadonlyMap<string, Json | undefined>): Promise<void> {
    return this.#locks.runAll(entries.keys(), async () => {
      // Every indexer runs before anything changes: one that throws leaves every key as it was.
      const writes = [...entries].map(([key, value]) => this.#prepare(key, value));
      for (const write of writes) write();
    });
  }

  modify(key: string, fn: (old: Json | undefined) => Promise<Json | undefined>): Promise<Json | undefined> {
    return this.#locks.run(key, async () => {
      const next = await fn(await this.get(key));
      this.#prepare(key, next)();
      return next === undefined ? undefined : (JSON.parse(JSON.stringify(next)) as Json);
    });
  }

  async keys(after: string | undefined, limit: number, prefix = ''): Promise<string[]> {
    const all = [...this.#values.keys()].filter((k) => k.startsWith(prefix)).sort(compareCodePoints);
    const start = after === undefined ? 0 : all.findIndex((k) => compareCodePoints(k, after) > 0);
    return start < 0 ? [] : all.slice(start, start + limit);
  }

  async entries(after: string | undefined, limit: number, prefix = ''): Promise<[string, Json][]> {
    return (await this.keys(after, limit, prefix)).map((key) => [key, JSON.parse(this.#values.get(key)!) as Json]);
  }

  async getMany(keys: readonly string[]): Promise<(Json | undefined)[]> {
    return keys.map((key) => {
      const text = this.#values.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as Json);
    });
  }

  async indexGet(index: IndexDefinition, indexKey: string, retrieveValues: boolean): Promise<IndexHit[]> {
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

  async close(): Promise<void> {}

  /**
   * Runs the indexers for writing `value` at `key` (which may throw, before anything changed)
   * and returns the write itself: synchronous, so the value and its index rows change together.
   */
  #prepare(key: string, value: Json | undefined): () => void {
    const newEntries =
      value === undefined ? [] : this.#indexDefs.map((index) => [index, indexEntries(index, key, value)] as const);
    const old = this.#values.get(key);
    // Indexers are pure (as in the proof of concept), so the old value yields the old rows.
    const oldEntries =
      old === undefined
        ? []
        : this.#indexDefs.map((index) => [index, indexEntries(index, key, JSON.parse(old) as Json)] as const);
    return () => {
      for (const [index, entries] of oldEntries) {
        const table = this.#indexes.get(index.id.value)!;
        for (const indexKey of entries.keys()) {
          const rows = table.get(indexKey);
          if (rows?.delete(key) && rows.size === 0) table.delete(indexKey);
        }
      }
      if (value === undefined) {
        this.#values.delete(key);
        return;
      }
      this.#values.set(key, JSON.stringify(value));
      for (const [index, entries] of newEntries) {
        const table = this.#indexes.get(index.id.value)!;
        for (const [indexKey, inline] of entries) {
          let rows = table.get(indexKey);
          if (!rows) table.set(indexKey, (rows = new Map()));
          rows.set(key, inline === undefined ? undefined : JSON.stringify(inline));
        }
      }
    };
  }
}
