/**
 * The PostgreSQL Store backend (deployed and local modes), through slonik. One pool per
 * store, opened on the first call, together with the store's tables (postgres-schema.ts).
 *
 * Atomicity: every write of a key first locks that key's row in the main table, and only then
 * touches the index tables, each step in its own statement so that it sees what the previous
 * lock holder committed (READ COMMITTED takes a fresh snapshot per statement).
 * - set: `INSERT ... ON CONFLICT DO UPDATE` locks the row it writes, and waits for a
 *   concurrent transaction that is inserting the same key.
 * - modify and deleting with indexes: "insert, then lock". A placeholder row (value NULL) is
 *   inserted, or, when the key exists, the existing row is locked and read, in one statement:
 *   `INSERT ... VALUES (key, NULL) ON CONFLICT (key) DO UPDATE SET value = t.value RETURNING`.
 *   This also locks a key that does not exist yet, which `SELECT ... FOR UPDATE` cannot do,
 *   so 50 concurrent increments of a missing key give 50. The placeholder is replaced or
 *   deleted in the same transaction, so no other session ever sees it, and a rollback (the
 *   function or an indexer threw) removes it. Chosen over `pg_advisory_xact_lock` because it
 *   needs one round trip fewer and no hash of the key that other tables' locks could share.
 * - delete without indexes: one `DELETE`; a key being inserted concurrently is left to that
 *   insert, as if the delete came first.
 * - setMany: the same "insert, then lock" for all its keys in one statement, in code-point
 *   order, then one statement writes the values and the index rows.
 * Each transaction locks main rows first (one, or setMany's in code-point order), then only
 * index rows of those keys, so two transactions never wait for each other in a cycle. (A
 * modify() function that writes another key of the same store holds one key while it waits for
 * another: with a concurrent setMany() of both, each waits for the other. Within one process
 * that wait is in this process's queues, and the deadline below ends it; across processes it is
 * between row locks, and PostgreSQL's deadlock detector fails one of them: INFRA_STORE_FAILED.)
 * Without indexes, set and delete are one statement each and need no transaction.
 *
 * Connections: a modify() function may itself call stores, which takes a second connection
 * while its transaction holds one. So that the pool cannot fill up with connections that all
 * wait (for a row lock, or for a free connection), writes of one key queue in this process
 * before taking a connection, and at most (pool size - 1) modify() functions run at once.
 *
 * Deadlines: every call ends within CALL_TIMEOUT_MS (postgres-pool.ts), whatever the database
 * does. A call past it fails, and throws out of its connection's handler, so slonik destroys
 * that connection instead of returning it to the pool: a connection stuck on a hung database
 * never serves again, and the pool opens fresh ones. For modify() the deadline covers the whole
 * transaction, its function included; a function that runs past it fails the call, naming
 * the store and key, and its transaction is rolled back (by the server, as its connection ends).
 */
import { checkIndexKey, checkKey, prefixEnd } from './keys.ts';
import { Deadline, DeadlinePassed } from './deadline.ts';
import { PerKeyQueue } from '../../private/per-key-queue.ts';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import {
  sql,
  type DatabasePool,
  type DatabasePoolConnection,
  type DatabaseTransactionConnection,
  type FragmentSqlToken,
  type IdentifierSqlToken,
  type QuerySqlToken,
  type ValueExpression,
} from 'slonik';
import type { Store } from './store.ts';
import type { IndexDefinition, IndexEntry, IndexHit, StoreBackend } from './backend.ts';
import { indexEntries } from './backend.ts';
import type { Json } from '../../core/json.ts';
import { Reachability } from './reachability.ts';
import type { Logger } from '../../core/logger.ts';
import { errors, InfraError } from '../../core/errors.ts';
import { createTables, storeTables, type ResolvedIndex, type StoreTables } from './postgres-schema.ts';
import { indexerFingerprint } from './indexer-fingerprint.ts';
import { manyIndexRows, replaceIndexRows, type ManyIndexRows } from './postgres-index-rows.ts';
import { IndexBuild } from './postgres-index-build.ts';
import { CALL_TIMEOUT_MS, createStorePool, isOutage, poolUsage } from './postgres-pool.ts';
import { DB_SYSTEM_POSTGRESQL } from '../../core/telemetry/attributes.ts';
import { observePool } from '../../core/telemetry/metrics.ts';

export interface PostgresStoreOptions {
  /** Told once when the database becomes unreachable and once when it is back. */
  log?: Logger;
  /** The pool's size (default: the store's `pool.max`), as a deployment's variable may set it. */
  poolMax?: number;
}

/** The backend of `store` on the PostgreSQL database at `url` (a `postgres://` connection URI). */
export function createPostgresStoreBackend(
  store: Store<any>,
  url: string,
  options: PostgresStoreOptions = {},
): StoreBackend {
  return new PostgresStoreBackend(store, url, options.log, options.poolMax ?? store.pool.max);
}

/** Carries an error thrown by the app's own code (modify's function, an indexer) through slonik untouched. */
class AppCodeError {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

async function appCode<R>(fn: () => R | Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    throw new AppCodeError(err);
  }
}

/** Runs `fn` on a connection of the pool, within the call's deadline. */
type Connect = <R>(fn: (connection: DatabasePoolConnection) => Promise<R>) => Promise<R>;

/** One index's new rows for a key, as two parallel arrays (bound as text[] and json[]). */
interface IndexRows {
  indexKeys: string[];
  inlineValues: (string | null)[];
}

class PostgresStoreBackend implements StoreBackend {
  readonly dbSystemName = DB_SYSTEM_POSTGRESQL;
  readonly #store: Store<any>;
  readonly #url: string;
  readonly #log: Logger | undefined;
  #pool: Promise<DatabasePool> | undefined;
  /** Stops reporting the pool's connections in the metrics. */
  #unobservePool: (() => void) | undefined;
  #schema: Promise<void> | undefined;
  /**
   * Each index's table for this process's indexer, in the order of the store's indexes; known
   * once the tables are made.
   */
  #indexTablesCache: ResolvedIndex[] | undefined;
  /** The builds of the indexes whose tables were not whole when the store opened, by position. */
  readonly #builds = new Map<number, IndexBuild>();
  /** The pool once open with the tables made: a call then starts without waiting for #ready. */
  #usable: DatabasePool | undefined;
  #tablesCache: StoreTables | undefined;
  #statementsCache: SingleKeyStatements | undefined;
  #closed = false;
  readonly #reachability: Reachability;
  /** The tail of each key's queue of writes in this process. */
  readonly #writes = new PerKeyQueue();
  readonly #poolMax: number;
  readonly #modifySlots: Slots;

  constructor(store: Store<any>, url: string, log: Logger | undefined, poolMax: number) {
    this.#store = store;
    this.#url = url;
    this.#log = log;
    this.#reachability = new Reachability(store.id.value, log);
    this.#poolMax = poolMax;
    this.#modifySlots = new Slots(poolMax - 1);
  }

  get #id(): string {
    return this.#store.id.value;
  }

  get #tables(): StoreTables {
    return (this.#tablesCache ??= storeTables(this.#store.id));
  }

  /** The index tables this process writes and reads; only once #ready has made them. */
  get #indexTables(): ResolvedIndex[] {
    return this.#indexTablesCache!;
  }

  /** The single-key statements, made once (text, name and value slots); each call binds its values. */
  get #statements(): SingleKeyStatements {
    return (this.#statementsCache ??= singleKeyStatements(this.#tables.main));
  }

  async get(key: string): Promise<Json | undefined> {
    checkKey(this.#id, key);
    const query = this.#statements.get({ key });
    return this.#run('get()', undefined, async (connect) => {
      const text = await connect((c) => c.maybeOneFirst(query));
      return text === null ? undefined : (JSON.parse(text as string) as Json);
    });
  }

  async set(key: string, value: Json | undefined): Promise<void> {
    checkKey(this.#id, key);
    if (value === undefined) return this.#delete(key);
    const upsert = this.#statements.upsert({ key, value: JSON.stringify(value) });
    return this.#run('set()', key, async (connect) => {
      if (this.#store.indexes.length === 0) {
        await connect((c) => c.query(upsert));
        return;
      }
      // Indexers run before anything is written: one that throws leaves everything as it was.
      const rows = await appCode(() => this.#indexRows(key, value));
      await connect((c) =>
        c.transaction(async (tx) => {
          await tx.query(upsert);
          await tx.query(withCtes(this.#indexWrites(key, rows), sql.fragment`SELECT 1`));
        }, 0),
      );
    });
  }

  async setMany(entries: ReadonlyMap<string, Json | undefined>): Promise<void> {
    for (const key of entries.keys()) checkKey(this.#id, key);
    if (entries.size === 0) return;
    const keys = [...entries.keys()];
    const written = { keys: [] as string[], values: [] as string[] };
    const deleted: string[] = [];
    for (const [key, value] of entries) {
      if (value === undefined) deleted.push(key);
      else {
        written.keys.push(key);
        written.values.push(JSON.stringify(value));
      }
    }
    const { main } = this.#tables;
    // Indexers run before anything is written (and before #run, so their errors reach the
    // caller as they are): one that throws leaves everything as it was.
    const rows = this.#store.indexes.map((index) => manyIndexRows(index, entries));
    const valueWrites = [
      sql.fragment`written AS (
        UPDATE ${main} AS t SET value = e.value
        FROM unnest(${sql.array(written.keys, 'text')}, ${sql.array(written.values, 'json')}) AS e(key, value)
        WHERE t.key = e.key)`,
      sql.fragment`deleted AS (DELETE FROM ${main} WHERE key = ANY(${sql.array(deleted, 'text')}))`,
    ];
    return this.#run('setMany()', keys, (connect) => {
      const writes = [...valueWrites, ...this.#manyIndexWrites(keys, rows)];
      return connect((c) =>
        c.transaction(async (tx) => {
          // Every row locked first (placeholders for new keys, as modify() does), in the keys'
          // code-point order: two setMany() calls, here or in another process, lock their
          // shared keys in the same order and so never deadlock. Then one statement, with a
          // fresh snapshot, writes the values and the index rows.
          await tx.query(statement`
            INSERT INTO ${main} AS t (key, value)
            SELECT k, NULL FROM unnest(${sql.array(keys, 'text')}) AS k ORDER BY k COLLATE "C"
            ON CONFLICT (key) DO UPDATE SET value = t.value`);
          await tx.query(withCtes(writes, sql.fragment`SELECT 1`));
        }, 0),
      );
    });
  }

  async modify(key: string, fn: (old: Json | undefined) => Promise<Json | undefined>): Promise<Json | undefined> {
    checkKey(this.#id, key);
    // The function runs in its caller's async context (the app's persona), not in slonik's
    // transaction context, which would make every store call inside it fail as using a
    // "foreign connection".
    const inCaller = AsyncLocalStorage.snapshot();
    const call = (old: Json | undefined) => appCode(() => inCaller(() => fn(old)));
    return this.#run('modify()', key, (connect, deadline) => {
      deadline.stage = 'busy';
      return this.#modifySlots.use(() =>
        connect((c) =>
          c.transaction(async (tx) => {
            const oldText = await this.#lockRow(tx, key);
            deadline.stage = 'function';
            const next = await call(oldText === null ? undefined : (JSON.parse(oldText) as Json));
            deadline.stage = 'database';
            return this.#writeIn(tx, key, next);
          }, 0),
        ),
      );
    });
  }

  async keys(after: string | undefined, limit: number, prefix = ''): Promise<string[]> {
    const where = this.#range(after, prefix);
    return this.#run('allKeys()', undefined, async (connect) => {
      const query = statement`SELECT key FROM ${this.#tables.main} ${where} ORDER BY key LIMIT ${limit}`;
      return [...((await connect((c) => c.anyFirst(query))) as string[])];
    });
  }

  async entries(after: string | undefined, limit: number, prefix = ''): Promise<[string, Json][]> {
    const where = this.#range(after, prefix);
    return this.#run('entries()', undefined, async (connect) => {
      const query = statement`SELECT key, value::text AS value FROM ${this.#tables.main} ${where} ORDER BY key LIMIT ${limit}`;
      const rows = (await connect((c) => c.any(query))) as readonly { key: string; value: string }[];
      return rows.map((row) => [row.key, JSON.parse(row.value) as Json]);
    });
  }

  async getMany(keys: readonly string[]): Promise<(Json | undefined)[]> {
    for (const key of keys) checkKey(this.#id, key);
    if (keys.length === 0) return [];
    return this.#run('getMany()', undefined, async (connect) => {
      const query = statement`SELECT key, value::text AS value FROM ${this.#tables.main} WHERE key = ANY(${sql.array([...keys], 'text')})`;
      const rows = (await connect((c) => c.any(query))) as readonly { key: string; value: string }[];
      const found = new Map(rows.map((row) => [row.key, row.value]));
      return keys.map((key) => {
        const text = found.get(key);
        return text === undefined ? undefined : (JSON.parse(text) as Json);
      });
    });
  }

  /**
   * The WHERE of a range of keys: after `after`, starting with `prefix`, as bounds the primary
   * key's B-tree serves (a scan from the prefix to its end, not a filter over every later key).
   */
  #range(after: string | undefined, prefix: string): ReturnType<typeof sql.fragment> {
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    const conditions = [
      ...(after === undefined ? [] : [sql.fragment`key > ${after}`]),
      ...(prefix === '' ? [] : [sql.fragment`key >= ${prefix}`]),
      ...(end === undefined ? [] : [sql.fragment`key < ${end}`]),
    ];
    return conditions.length === 0 ? sql.fragment`` : sql.fragment`WHERE ${sql.join(conditions, sql.fragment` AND `)}`;
  }

  async indexGet(index: IndexDefinition, indexKey: string, retrieveValues: boolean): Promise<IndexHit[]> {
    checkIndexKey(index.id.value, indexKey);
    const { main } = this.#tables;
    const table = await this.#readableTable(index, 'get()');
    return this.#run(`Index ${index.id.value} get()`, undefined, async (connect) => {
      // One statement, so the index rows and the values come from one snapshot.
      const query = retrieveValues
        ? statement`
            SELECT i.key, i.inline_value::text AS inline, t.value::text AS value
            FROM ${table} i JOIN ${main} t ON t.key = i.key
            WHERE i.index_key = ${indexKey} ORDER BY i.key`
        : statement`SELECT key, inline_value::text AS inline FROM ${table} WHERE index_key = ${indexKey} ORDER BY key`;
      const rows = (await connect((c) => c.any(query))) as readonly {
        key: string;
        inline: string | null;
        value?: string;
      }[];
      return rows.map((row) => {
        const hit: IndexHit = {
          key: row.key,
          inlineValue: row.inline === null ? undefined : (JSON.parse(row.inline) as Json),
        };
        if (retrieveValues) hit.value = JSON.parse(row.value!) as Json;
        return hit;
      });
    });
  }

  async indexEntries(
    index: IndexDefinition,
    after: { indexKey: string; key: string } | undefined,
    limit: number,
  ): Promise<IndexEntry[]> {
    const table = await this.#readableTable(index, 'entries');
    return this.#run(`Index ${index.id.value} entries`, undefined, async (connect) => {
      // A row comparison the primary key (index_key, key), in the "C" collation, serves in order.
      const query =
        after === undefined
          ? statement`SELECT index_key, key, inline_value::text AS inline FROM ${table} ORDER BY index_key, key LIMIT ${limit}`
          : statement`
              SELECT index_key, key, inline_value::text AS inline FROM ${table}
              WHERE (index_key, key) > (${after.indexKey}, ${after.key})
              ORDER BY index_key, key LIMIT ${limit}`;
      const rows = (await connect((c) => c.any(query))) as readonly {
        index_key: string;
        key: string;
        inline: string | null;
      }[];
      return rows.map((row) => ({
        indexKey: row.index_key,
        key: row.key,
        inlineValue: row.inline === null ? undefined : (JSON.parse(row.inline) as Json),
      }));
    });
  }

  open(): Promise<void> {
    return this.#opened('open');
  }

  /** The store opened (tables made, builds started) as any call opens it, failing as `call`. */
  async #opened(call: string): Promise<void> {
    if (!this.#usable) await this.#run(call, undefined, async () => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const build of this.#builds.values()) build.stop();
    this.#usable = undefined;
    const pool = await this.#pool?.catch(() => undefined);
    this.#pool = undefined;
    this.#unobservePool?.();
    await pool?.end();
  }

  #delete(key: string): Promise<void> {
    const { main } = this.#tables;
    return this.#run('set()', key, async (connect) => {
      if (this.#store.indexes.length === 0) {
        await connect((c) => c.query(this.#statements.delete({ key })));
        return;
      }
      await connect((c) =>
        c.transaction(async (tx) => {
          await this.#lockRow(tx, key);
          await tx.query(withCtes(this.#indexDeletes(key), sql.fragment`DELETE FROM ${main} WHERE key = ${key}`));
        }, 0),
      );
    });
  }

  /** The rest of modify()'s transaction, once its function returned `next`. */
  async #writeIn(tx: DatabaseTransactionConnection, key: string, next: Json | undefined): Promise<Json | undefined> {
    const { main } = this.#tables;
    if (next === undefined) {
      await tx.query(withCtes(this.#indexDeletes(key), sql.fragment`DELETE FROM ${main} WHERE key = ${key}`));
      return undefined;
    }
    const text = JSON.stringify(next);
    if (this.#store.indexes.length === 0) await tx.query(this.#statements.update({ key, value: text }));
    else {
      const rows = await appCode(() => this.#indexRows(key, next));
      await tx.query(
        withCtes(
          this.#indexWrites(key, rows),
          sql.fragment`UPDATE ${main} SET value = ${text}::json WHERE key = ${key}`,
        ),
      );
    }
    return JSON.parse(text) as Json;
  }

  /** Locks `key`'s row, inserting a placeholder when it is missing; resolves to its value's JSON text, or null. */
  async #lockRow(tx: DatabaseTransactionConnection, key: string): Promise<string | null> {
    return (await tx.oneFirst(this.#statements.lock({ key }))) as string | null;
  }

  #indexRows(key: string, value: Json): IndexRows[] {
    return this.#store.indexes.map((index) => {
      const rows: IndexRows = { indexKeys: [], inlineValues: [] };
      for (const [indexKey, inline] of indexEntries(index, key, value)) {
        rows.indexKeys.push(indexKey);
        rows.inlineValues.push(inline === undefined ? null : JSON.stringify(inline));
      }
      return rows;
    });
  }

  /**
   * Per index: delete the key's rows whose index key it no longer yields, upsert the others
   * (rewriting a row only when its inline value changed).
   */
  #indexWrites(key: string, rows: IndexRows[]): FragmentSqlToken[] {
    return this.#indexTables.flatMap(({ table }, i) => {
      const indexKeys = sql.array(rows[i].indexKeys, 'text');
      return [
        sql.fragment`${sql.identifier([`stale_${i}`])} AS (
          DELETE FROM ${table} WHERE key = ${key} AND NOT (index_key = ANY(${indexKeys})))`,
        sql.fragment`${sql.identifier([`upsert_${i}`])} AS (
          INSERT INTO ${table} AS t (index_key, key, inline_value)
          SELECT e.index_key, ${key}, e.inline_value FROM unnest(${indexKeys}, ${sql.array(rows[i].inlineValues, 'json')}) AS e(index_key, inline_value)
          ON CONFLICT (index_key, key) DO UPDATE SET inline_value = EXCLUDED.inline_value
          WHERE t.inline_value::text IS DISTINCT FROM EXCLUDED.inline_value::text)`,
      ];
    });
  }

  /** #indexWrites for many keys: each index's rows of `keys` made exactly `rows`. */
  #manyIndexWrites(keys: string[], rows: ManyIndexRows[]): FragmentSqlToken[] {
    return this.#indexTables.flatMap(({ table }, i) => replaceIndexRows(table, i, keys, rows[i]));
  }

  #indexDeletes(key: string): FragmentSqlToken[] {
    return this.#indexTables.map(
      ({ table }, i) => sql.fragment`${sql.identifier([`gone_${i}`])} AS (DELETE FROM ${table} WHERE key = ${key})`,
    );
  }

  /**
   * The table of `index` once it is whole: a read of an index being built waits for its build
   * (which the store started when it opened), up to the call's deadline.
   */
  async #readableTable(index: IndexDefinition, call: string): Promise<IdentifierSqlToken> {
    const position = this.#store.indexes.findIndex(
      (candidate) => candidate === index || candidate.id.value === index.id.value,
    );
    if (position < 0) throw errors.unknownIndex(this.#id, index.id.value);
    await this.#opened(`Index ${index.id.value} ${call}`);
    const table = this.#indexTables[position];
    if (!table.built) await this.#builds.get(position)?.whenBuilt(CALL_TIMEOUT_MS);
    return table.table;
  }

  /**
   * The pool, opened (and the tables created, within `deadline`) on first use, again after a
   * failed attempt.
   */
  async #ready(deadline: Deadline): Promise<DatabasePool> {
    if (this.#closed) throw errors.storeClosed(this.#id);
    if (!this.#pool) {
      const opening = createStorePool(this.#url, this.#id, this.#poolMax).then((pool) => {
        this.#unobservePool = observePool(this.#id, poolUsage(pool));
        return pool;
      });
      this.#pool = opening;
      opening.catch(() => {
        if (this.#pool === opening) this.#pool = undefined;
      });
    }
    const pool = await this.#pool;
    if (this.#closed) throw errors.storeClosed(this.#id);
    if (!this.#schema) {
      const creating = this.#openTables(pool, deadline);
      this.#schema = creating;
      creating.catch(() => {
        if (this.#schema === creating) this.#schema = undefined;
      });
    }
    await this.#schema;
    if (!this.#closed) this.#usable = pool;
    return pool;
  }

  /**
   * Makes the store's tables (or finds them), with each index's table for this process's
   * indexer, and starts building those that are not whole.
   */
  async #openTables(pool: DatabasePool, deadline: Deadline): Promise<void> {
    const indexes = this.#store.indexes;
    const fingerprints = await Promise.all(indexes.map((index) => indexerFingerprint(index)));
    const versions = indexes.map((index, i) => ({ id: index.id, fingerprint: fingerprints[i] }));
    const resolved = await this.#connect(pool, deadline, (c) => createTables(c, this.#tables, versions));
    this.#indexTablesCache = resolved;
    resolved.forEach((table, i) => {
      if (table.built || this.#builds.has(i)) return;
      const build = new IndexBuild({
        pool,
        tables: this.#tables,
        index: indexes[i],
        resolved: table,
        storeId: this.#id,
        log: this.#log,
      });
      this.#builds.set(i, build);
      build.start();
    });
  }

  /**
   * Runs `fn` on a connection of `pool` until `deadline`. When the deadline passes first, `fn`'s
   * promise is left to settle on its own and the handler throws, so slonik destroys the
   * connection, whose query may never be answered, instead of returning it to the pool.
   */
  async #connect<R>(
    pool: DatabasePool,
    deadline: Deadline,
    fn: (connection: DatabasePoolConnection) => Promise<R>,
  ): Promise<R> {
    if (deadline.passed) throw new DeadlinePassed(deadline.stage, deadline.ms);
    deadline.stage = 'busy';
    return pool.connect(async (connection) => {
      // Nobody waits for this call any more: give the connection back unused (and healthy).
      if (deadline.passed) return undefined as R;
      deadline.stage = 'database';
      return deadline.race(fn(connection));
    });
  }

  /**
   * Runs `work` (after this process's earlier writes of `writes`, the key or keys it writes, when
   * given) within the call's deadline, turning failures into errors that name the store.
   */
  async #run<R>(
    call: string,
    writes: string | readonly string[] | undefined,
    work: (connect: Connect, deadline: Deadline) => Promise<R>,
  ): Promise<R> {
    const deadline = new Deadline(CALL_TIMEOUT_MS);
    const started = this.#reachability.callStarted();
    let result: R;
    try {
      deadline.stage = 'database';
      const pool = this.#usable ?? (await deadline.race(this.#ready(deadline)));
      deadline.stage = 'queued';
      const connect: Connect = (fn) => this.#connect(pool, deadline, fn);
      const run = () => work(connect, deadline);
      result = await deadline.race(
        writes === undefined
          ? run()
          : typeof writes === 'string'
            ? this.#writes.run(writes, run)
            : this.#writes.runAll(writes, run),
      );
    } catch (err) {
      throw this.#failure(call, writes, err);
    } finally {
      deadline.clear();
    }
    this.#reachability.succeeded(started);
    return result;
  }

  #failure(call: string, writes: string | readonly string[] | undefined, err: unknown): unknown {
    if (err instanceof AppCodeError) return err.error;
    if (err instanceof InfraError) return err;
    if (err instanceof DeadlinePassed) {
      const seconds = err.ms / 1000;
      // modify()'s own function was too slow: the app's fault, not the database's.
      if (err.stage === 'function') return errors.modifyTimeout(this.#id, writes as string, seconds);
      // Waiting behind this process's earlier writes of the key: those are what is stuck (and
      // they report it themselves), so this says so without declaring an outage.
      if (err.stage === 'queued')
        return errors.storeUnavailable(
          this.#id,
          `${call} waited ${seconds} s for this process's earlier writes of ${describeKeys(writes!)}, which have not finished`,
        );
      // Every connection (or modify() slot) was in use for the whole time: by slow modify()
      // functions, or by calls the database does not answer, which then report the outage.
      if (err.stage === 'busy')
        return errors.storeUnavailable(
          this.#id,
          `${call} waited ${seconds} s for one of the store's connections, all in use (by slow modify() functions, or by calls the database does not answer)`,
        );
      return this.#outage(errors.storeUnavailable(this.#id, `no answer to ${call} within ${seconds} s`));
    }
    if (!isOutage(err)) return errors.storeFailed(this.#id, call, err);
    return this.#outage(errors.storeUnavailable(this.#id, err));
  }

  /** Logs once that the database is lost (the first failure after it was reachable). */
  #outage(err: InfraError): InfraError {
    this.#reachability.lost(err.cause);
    return err;
  }
}

/** At most `size` callers run at once; the others wait in turn. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async use<R>(fn: () => Promise<R>): Promise<R> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** `key "a"`, or `keys "a", "b" and 3 more`, for an error message. */
function describeKeys(keys: string | readonly string[]): string {
  if (typeof keys === 'string') return `key ${JSON.stringify(keys)}`;
  const shown = keys
    .slice(0, 3)
    .map((key) => JSON.stringify(key))
    .join(', ');
  return keys.length > 3 ? `keys ${shown} and ${keys.length - 3} more` : `keys ${shown}`;
}

function withCtes(ctes: FragmentSqlToken[], last: FragmentSqlToken): QuerySqlToken {
  return ctes.length === 0 ? statement`${last}` : statement`WITH ${sql.join(ctes, sql.fragment`, `)} ${last}`;
}

/** What a single-key statement binds: the key, and for a write the value's JSON text. */
interface Bound {
  key: string;
  value?: string;
}

/** A statement made once, bound per call to its key and value, whatever the order of their slots. */
type Bind = (bound: Bound) => QuerySqlToken;

interface SingleKeyStatements {
  get: Bind;
  upsert: Bind;
  delete: Bind;
  lock: Bind;
  update: Bind;
}

/**
 * The statements of one key that every get, set, delete and modify sends, made once per store:
 * the SQL tag's work (the text, its identifiers, the name's hash) is then not redone per call.
 * Each is made with stand-ins in its value slots (texts no key or JSON can be: they start with
 * NUL), which say which slot takes the key and which the value.
 */
function singleKeyStatements(main: IdentifierSqlToken): SingleKeyStatements {
  const KEY = '\u0000key';
  const VALUE = '\u0000value';
  const bindable = (query: QuerySqlToken): Bind => {
    const slots = query.values.map((standIn) => (standIn === KEY ? 'key' : 'value') as keyof Bound);
    return (bound) => ({ ...query, values: slots.map((slot) => bound[slot]!) });
  };
  return {
    get: bindable(statement`SELECT value::text FROM ${main} WHERE key = ${KEY}`),
    upsert: bindable(statement`
      INSERT INTO ${main} AS t (key, value) VALUES (${KEY}, ${VALUE}::json)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`),
    delete: bindable(statement`DELETE FROM ${main} WHERE key = ${KEY}`),
    // Locks the key's row, inserting a placeholder when it is missing (see the top of this file).
    lock: bindable(statement`
      INSERT INTO ${main} AS t (key, value) VALUES (${KEY}, NULL)
      ON CONFLICT (key) DO UPDATE SET value = t.value
      RETURNING value::text`),
    update: bindable(statement`UPDATE ${main} SET value = ${VALUE}::json WHERE key = ${KEY}`),
  };
}

const statementNames = new Map<string, string>();

/**
 * `sql.unsafe`, sent as a named prepared statement: PostgreSQL parses and plans each text once
 * per connection instead of on every call, which nearly doubles the rate of small queries.
 * The name is a hash of the text (so one name never stands for two texts); there are a few
 * texts per store, so the map stays small. Statements are the only session state these
 * connections keep (see postgres-pool.ts), and they belong to this store's own pool.
 */
function statement(parts: TemplateStringsArray, ...values: ValueExpression[]): QuerySqlToken {
  const query = sql.unsafe(parts, ...values);
  let name = statementNames.get(query.sql);
  if (name === undefined)
    statementNames.set(
      query.sql,
      (name = `infra_${createHash('sha256').update(query.sql).digest('hex').slice(0, 24)}`),
    );
  return { ...query, name };
}
