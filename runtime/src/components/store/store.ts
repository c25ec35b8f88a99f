/**
 * Store<T>: a persistent key-value map of JSON values with secondary indexes. In one process
 * it lives in memory; deployed, in the PostgreSQL that the build gives it. Both behave the
 * same (one contract suite runs against both).
 */
import { isStorableText } from './storable-text.ts';
import { brand, hasBrand } from '../../core/brands.ts';
import { componentPlatform } from '../platform.ts';
import { Component } from '../../core/component.ts';
import type { ID } from '../../core/id.ts';
import { jsonRoundTrip, type Json } from '../../core/json.ts';
import { errors } from '../../core/errors.ts';
import type { IndexDefinition, IndexHit, Indexer, StoreBackend } from './backend.ts';
import { Password } from '../../values/secret.ts';
import { assertMayUseStore } from '../../core/access.ts';

export interface AllKeysOptions {
  /** How many keys each round trip to the backend fetches (default 100). */
  batchSize?: number;
}

export interface IndexGetOptions {
  /** Also fetch each hit's current value (default false). */
  retrieveValues?: boolean;
}

export class StoreIndex<T = any, I = any> extends Component implements IndexDefinition {
  readonly store: Store<T>;
  readonly indexer: Indexer<T, I>;

  constructor(store: Store<T>, id: ID, indexer: Indexer<T, I>) {
    super(id, 'Index');
    if (typeof indexer !== 'function') {
      throw errors.notAFunction(
        'Index',
        id.value,
        'the indexer must be a function (value, key) => Iterable<{ indexKey, inlineValue? }>',
      );
    }
    this.store = store;
    this.indexer = indexer;
    store.indexes.push(this);
  }

  /** The keys (and inline values) whose value yielded `indexKey`, ordered by key. */
  async get(indexKey: string, options: IndexGetOptions = {}): Promise<IndexHit<T, I>[]> {
    this.assertPhase('get()', 'runtime');
    assertMayUseStore(this.store);
    if (typeof indexKey !== 'string') throw errors.invalidIndexKey(this.id.value, indexKey);
    return (await this.store.backend.indexGet(this, indexKey, options.retrieveValues ?? false)) as IndexHit<T, I>[];
  }
}

/** `new store.Index(id, indexer)`: the Index class bound to one store. */
export type BoundIndexConstructor<T> = new <I = any>(id: ID, indexer: Indexer<T, I>) => StoreIndex<T, I>;

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
  #backend: StoreBackend | undefined;

  constructor(id: ID) {
    super(id, 'Store');
    this.password = new Password(id.child('password'), { readers: [this.owner] });
    // `store.Index` is a class bound to this store, as `new store.Index(id, indexer)` reads; a
    // class body has its own `this`, so the store goes in by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this;
    this.Index = class<I> extends StoreIndex<T, I> {
      constructor(indexId: ID, indexer: Indexer<T, I>) {
        super(store, indexId, indexer);
      }
    };
  }

  /**
   * The subtree allowed to use this store: its parent's (for `my-app.customer-server.db`,
   * every persona under `my-app.customer-server`). Stores are encapsulated by their owner.
   */
  get owner(): ID {
    return this.id.parent ?? this.id;
  }

  /** The backend this store's platform gave it (created on first use). */
  get backend(): StoreBackend {
    return (this.#backend ??= componentPlatform(this.app).storeBackend(this));
  }

  async get(key: string): Promise<T | undefined> {
    this.#check('get()', key);
    return (await this.backend.get(key)) as T | undefined;
  }

  /** Stores a copy of `value` (what JSON keeps of it); `undefined` deletes the key. */
  async set(key: string, value: T | undefined): Promise<void> {
    this.#check('set()', key);
    await this.backend.set(key, this.#json(value, `the value for key ${JSON.stringify(key)}`));
  }

  async has(key: string): Promise<boolean> {
    this.#check('has()', key);
    return (await this.backend.get(key)) !== undefined;
  }

  async del(key: string): Promise<void> {
    this.#check('del()', key);
    await this.backend.set(key, undefined);
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
    const what = `the value modify() returned for key ${JSON.stringify(key)}`;
    return (await this.backend.modify(key, async (old) => this.#json(await fn(old as T | undefined), what))) as
      T | undefined;
  }

  /** Every key, in code-point order, fetched `batchSize` at a time. */
  async *allKeys(options: AllKeysOptions = {}): AsyncIterableIterator<string> {
    this.assertPhase('allKeys()', 'runtime');
    assertMayUseStore(this);
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw errors.invalidBatchSize(this.id.value);
    let after: string | undefined;
    for (;;) {
      const batch = await this.backend.keys(after, batchSize);
      yield* batch;
      if (batch.length < batchSize) return;
      after = batch[batch.length - 1];
    }
  }

  #check(call: string, key: unknown): void {
    this.assertPhase(call, 'runtime');
    assertMayUseStore(this);
    // The same keys in every mode: PostgreSQL text cannot hold NUL or a lone surrogate, so memory refuses them too.
    if (typeof key !== 'string' || key.length === 0 || !isStorableText(key))
      throw errors.invalidKey(this.id.value, key);
  }

  #json(value: T | undefined, what: string): Json | undefined {
    return jsonRoundTrip(value, this.toString(), what, this.id.value) as Json | undefined;
  }
}

brand(Store, 'Store');
