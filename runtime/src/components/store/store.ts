/**
 * Store<T>: a persistent key-value map of JSON values with secondary indexes. In one process
 * it lives in memory; deployed, in the PostgreSQL that the build gives it. Both behave the
 * same (one contract suite runs against both).
 */
import { checkIndexKey, checkKey, checkPrefix } from './keys.ts';
import { refuseWriteInsideModify, runModifyFunction } from './modify-guard.ts';
import { brand, hasBrand } from '../../core/brands.ts';
import { componentPlatform } from '../platform.ts';
import { Component } from '../../core/component.ts';
import type { ID } from '../../core/id.ts';
import { jsonRoundTrip, type Json } from '../../core/json.ts';
import { errors } from '../../core/errors.ts';
import type { IndexDefinition, IndexHit, Indexer, StoreBackend } from './backend.ts';
import { Password } from '../../values/secret.ts';
import { assertMayUseStore } from '../../core/access.ts';
import { indexGetOperation, storeOperations, traced, type StoreOperation } from './telemetry.ts';
import { connectionCount, STORE_POOL } from '../connection-limits.ts';

export interface StoreOptions {
  pool?: {
    /**
     * The most connections the store opens in each process that uses it, deployed (default 10,
     * from 2 to 1000). The variable `<STORE_ID>__POOL_MAX` of a persona's environment overrides
     * it for that deployment.
     */
    max?: number;
  };
}

export interface AllKeysOptions {
  /** How many keys each round trip to the backend fetches (default 100). */
  batchSize?: number;
  /** Only the keys that start with it (default: every key). */
  prefix?: string;
}

/** What entries() takes: as allKeys(), each batch a round trip for keys and values together. */
export type EntriesOptions = AllKeysOptions;

export interface IndexOptions {
  /**
   * Part of the indexer's fingerprint: change it when what the indexer yields changes without
   * its own text changing (a helper or a constant it uses did), and the index is rebuilt.
   */
  version?: string | number;
}

export interface IndexGetOptions {
  /** Also fetch each hit's current value (default false). */
  retrieveValues?: boolean;
}

/**
 * How an index reaches its store's backend. The backend is private to the store (a `#` field,
 * which no code outside the class can read, unlike a property): the access rules are checked
 * in the store's and the index's methods, and a public backend would let any persona walk
 * around them. Set by Store's static block.
 */
let backendOf: (store: Store<any>) => StoreBackend;

export class StoreIndex<T = any, I = any> extends Component implements IndexDefinition {
  readonly store: Store<T>;
  readonly indexer: Indexer<T, I>;
  readonly version: string | number | undefined;
  #operation: StoreOperation | undefined;

  constructor(store: Store<T>, id: ID, indexer: Indexer<T, I>, options: IndexOptions = {}) {
    super(id, 'Index');
    if (typeof indexer !== 'function') {
      throw errors.notAFunction(
        'Index',
        id.value,
        'the indexer must be a function (value, key) => Iterable<{ indexKey, inlineValue? }>',
      );
    }
    const version = options.version;
    if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version))
      throw errors.invalidIndexVersion(id.value, version);
    this.store = store;
    this.indexer = indexer;
    this.version = version;
    store.indexes.push(this);
  }

  /** The keys (and inline values) whose value yielded `indexKey`, ordered by key. */
  async get(indexKey: string, options: IndexGetOptions = {}): Promise<IndexHit<T, I>[]> {
    this.assertPhase('get()', 'runtime');
    assertMayUseStore(this.store, `${this.id.value} get()`);
    checkIndexKey(this.id.value, indexKey);
    const backend = backendOf(this.store);
    this.#operation ??= indexGetOperation(this.store.id.value, backend.dbSystemName, this.id.value);
    return (await traced(this.#operation, () =>
      backend.indexGet(this, indexKey, options.retrieveValues ?? false),
    )) as IndexHit<T, I>[];
  }
}

/** `new store.Index(id, indexer)`: the Index class bound to one store. */
export type BoundIndexConstructor<T> = new <I = any>(
  id: ID,
  indexer: Indexer<T, I>,
  options?: IndexOptions,
) => StoreIndex<T, I>;

export class Store<T = any> extends Component {
  /** Whether `value` is a Store (of any copy of this package). */
  static isStore(value: unknown): value is Store<any> {
    return hasBrand(value, 'Store');
  }

  /** The indexes of this store, in creation order. */
  readonly indexes: StoreIndex<T>[] = [];
  /** `new store.Index(id\`by-name\`, (c) => [{ indexKey: c.name }])` */
  readonly Index: BoundIndexConstructor<T>;
  /** The database password, readable only by the personas in the subtree that owns the store. */
  readonly password: Password;
  /** The pool's size in code (a deployment may override it: StoreOptions). */
  readonly pool: { readonly max: number };
  #backend: StoreBackend | undefined;
  #operationsCache: ReturnType<typeof storeOperations> | undefined;

  constructor(id: ID, options: StoreOptions = {}) {
    super(id, 'Store');
    this.pool = Object.freeze({
      max: connectionCount(STORE_POOL, options.pool?.max, { kind: 'Store', id: id.value }, 'pool.max'),
    });
    this.password = new Password(id.child('password'), { readers: [this.owner] });
    // `store.Index` is a class bound to this store, as `new store.Index(id, indexer)` reads; a
    // class body has its own `this`, so the store goes in by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this;
    this.Index = class<I> extends StoreIndex<T, I> {
      constructor(indexId: ID, indexer: Indexer<T, I>, options?: IndexOptions) {
        super(store, indexId, indexer, options);
      }
    };
  }

  /**
   * The subtree allowed to use this store: its parent's (for `my-app.customer-server.db`,
   * every persona under `my-app.customer-server`). Stores are encapsulated by their owner.
   */
  override freeze(): void {
    Object.freeze(this.indexes);
    super.freeze();
  }

  get owner(): ID {
    return this.id.parent ?? this.id;
  }

  static {
    backendOf = (store) => store.#storage;
  }

  /** The backend this store's platform gave it (created on first use). */
  get #storage(): StoreBackend {
    return (this.#backend ??= componentPlatform(this.app).storeBackend(this));
  }

  /**
   * The spans' names and attributes of this store's operations, made with its backend (which
   * names the database system).
   */
  get #operations(): ReturnType<typeof storeOperations> {
    return (this.#operationsCache ??= storeOperations(this.id.value, this.#storage.dbSystemName));
  }

  // Each call is checked (phase, the caller's access, the key, a write inside modify()) before
  // its span: the span's attributes come from the backend, which exists only at runtime and,
  // deployed, only for a persona allowed to use the store and given its URL; a key the caller
  // got wrong must be refused as such (a 400 from an API), whatever the backend.

  async get(key: string): Promise<T | undefined> {
    this.#check('get()', key);
    return (await traced(this.#operations.get, () => this.#storage.get(key))) as T | undefined;
  }

  /**
   * The values of `keys`, in their order (undefined where there is none), in one round trip:
   * what a page of a list needs, instead of one get() per key.
   */
  async getMany(keys: readonly string[]): Promise<(T | undefined)[]> {
    this.#allowed('getMany()');
    if (!Array.isArray(keys)) throw errors.invalidKeys(this.id.value, 'getMany()', keys);
    for (const key of keys) checkKey(this.id.value, key);
    return (await traced(this.#operations.getMany, () => this.#storage.getMany(keys))) as (T | undefined)[];
  }

  /** Stores a copy of `value` (what JSON keeps of it); `undefined` deletes the key. */
  async set(key: string, value: T | undefined): Promise<void> {
    this.#check('set()', key);
    const json = this.#json(value, `the value for key ${JSON.stringify(key)}`);
    await traced(this.#operations.set, () => this.#storage.set(key, json));
  }

  /**
   * Writes every `[key, value]` of `entries` (an array of pairs, a Map, any iterable of pairs;
   * an `undefined` value deletes its key) in one transaction: a reader sees all of them or none,
   * and an indexer that throws leaves every key as it was. A key given twice keeps its last value.
   */
  async setMany(entries: Iterable<readonly [string, T | undefined]>): Promise<void> {
    this.#allowed('setMany()');
    const checked = new Map<string, Json | undefined>();
    // A string is iterable, but never what was meant.
    if (
      typeof entries !== 'object' ||
      entries === null ||
      typeof (entries as Iterable<unknown>)[Symbol.iterator] !== 'function'
    )
      throw errors.invalidEntries(this.id.value, entries);
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) throw errors.invalidEntries(this.id.value, entry, true);
      const [key, value] = entry as [unknown, T | undefined];
      checkKey(this.id.value, key);
      refuseWriteInsideModify(this, this.id.value, 'setMany', key);
      checked.delete(key);
      checked.set(key, this.#json(value, `the value for key ${JSON.stringify(key)}`));
    }
    if (checked.size === 0) return;
    await traced(this.#operations.setMany, () => this.#storage.setMany(checked));
  }

  async has(key: string): Promise<boolean> {
    this.#check('has()', key);
    return (await traced(this.#operations.has, () => this.#storage.get(key))) !== undefined;
  }

  async del(key: string): Promise<void> {
    this.#check('del()', key);
    await traced(this.#operations.del, () => this.#storage.set(key, undefined));
  }

  /**
   * Atomic read-modify-write: `fn` gets the current value (or undefined) and returns the new
   * one (undefined deletes). Concurrent calls on one key apply one after another; none is lost.
   * Resolves to the value written.
   */
  async modify(
    key: string,
    fn: (old: T | undefined) => T | undefined | Promise<T | undefined>,
  ): Promise<T | undefined> {
    this.#check('modify()', key);
    // The function runs inside the span: its own store calls are the span's children.
    return (await traced(this.#operations.modify, () => {
      const what = `the value modify() returned for key ${JSON.stringify(key)}`;
      return this.#storage.modify(key, async (old) =>
        this.#json(await runModifyFunction(this, key, () => fn(old as T | undefined)), what),
      );
    })) as T | undefined;
  }

  /**
   * Every key, in code-point order, fetched `batchSize` at a time. Each fetch is a span of its
   * own, not the whole iteration: the caller's work between batches (and the store calls it
   * makes) is not this call's, and an iteration left unfinished would leave its span open.
   */
  async *allKeys(options: AllKeysOptions = {}): AsyncIterableIterator<string> {
    const { batchSize, prefix } = this.#range('allKeys()', options);
    let after: string | undefined;
    for (;;) {
      const batch = await traced(this.#operations.allKeys, () => this.#storage.keys(after, batchSize, prefix));
      yield* batch;
      if (batch.length < batchSize) return;
      after = batch[batch.length - 1];
    }
  }

  /**
   * Every `[key, value]`, in the keys' code-point order, `batchSize` at a time, each batch one
   * round trip (and one span); with `prefix`, only the keys that start with it. A listing's
   * loop, without a get() per key.
   */
  async *entries(options: EntriesOptions = {}): AsyncIterableIterator<[string, T]> {
    const { batchSize, prefix } = this.#range('entries()', options);
    let after: string | undefined;
    for (;;) {
      const batch = await traced(this.#operations.entries, () => this.#storage.entries(after, batchSize, prefix));
      yield* batch as [string, T][];
      if (batch.length < batchSize) return;
      after = batch[batch.length - 1]![0];
    }
  }

  /** The checked options of allKeys() and entries(). */
  #range(call: string, options: AllKeysOptions): { batchSize: number; prefix: string } {
    this.#allowed(call);
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw errors.invalidBatchSize(this.id.value, call);
    const prefix = options.prefix ?? '';
    checkPrefix(this.id.value, call, prefix);
    return { batchSize, prefix };
  }

  #allowed(call: string): void {
    this.assertPhase(call, 'runtime');
    assertMayUseStore(this, call);
  }

  #check(call: string, key: unknown): void {
    this.#allowed(call);
    // Checked here, before any backend, so that every mode refuses the same keys and writes.
    checkKey(this.id.value, key);
    if (call !== 'get()' && call !== 'has()') refuseWriteInsideModify(this, this.id.value, call.slice(0, -2), key);
  }

  #json(value: T | undefined, what: string): Json | undefined {
    return jsonRoundTrip(value, this.toString(), what, this.id.value) as Json | undefined;
  }
}

brand(Store, 'Store');
