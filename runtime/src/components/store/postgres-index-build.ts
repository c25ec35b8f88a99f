/**
 * Building an index's table from the store's values, when its indexer is new to the store (it
 * changed, or the index was added to a store that has values): one batch of keys per
 * transaction, in key order, its progress kept in the store's record of indexes
 * (postgres-schema.ts), so that a build a process left unfinished (it crashed, it was stopped)
 * goes on from there in whichever process of this code comes next.
 *
 * Why no write is lost:
 * - every write of a key, in any process of this code, already writes the table being built
 *   (it is one of the index's tables), after locking the key's row. A batch locks its keys'
 *   rows too (FOR SHARE, in key order, as writers lock them), so it and a write of one of its
 *   keys happen one after the other, and whichever comes second sees the other's value;
 * - a process of other code (the earlier indexer, during a rolling update) does not write this
 *   table, but the store's table has a trigger that logs every key written during the build
 *   (postgres-schema.ts, createChangeLog), whoever writes it. Once every key is scanned, the
 *   build indexes the logged keys again, and the last step does the rest of the log with
 *   writes held off, so the table holds what the new indexer yields for each key's latest value.
 *
 * Why readers never see a half-built index: readers of this code wait for the table to be
 * whole (postgres.ts), which the last step marks it; the index's other tables are retired
 * after (finishStep).
 *
 * The steps serialise on the index's record row (FOR UPDATE), so several processes may run
 * them at once without doing a step twice.
 */
import { sql, type CommonQueryMethods, type DatabasePool, type DatabasePoolConnection } from 'slonik';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Json } from '../../core/json.ts';
import type { Logger } from '../../core/logger.ts';
import { errors, messageOf, type InfraError } from '../../core/errors.ts';
import { Deadline } from './deadline.ts';
import { indexerThrew, type IndexDefinition } from './backend.ts';
import { manyIndexRows, replaceIndexRows } from './postgres-index-rows.ts';
import { finishBuild, lockTimeout, schemaLock, type ResolvedIndex, type StoreTables } from './postgres-schema.ts';

/** The longest one batch may take before it is given up (and its connection destroyed) and tried again. */
const STEP_TIMEOUT_MS = 30_000;

/** How often a long build says how far it got. */
const REPORT_EVERY_MS = 2_000;

/**
 * The last step's lock_timeout, first and at most: every write of the store waits behind that
 * lock while it waits, so it starts short and doubles at each try that did not get it.
 */
const FIRST_LOCK_TIMEOUT_MS = 100;
const LAST_LOCK_TIMEOUT_MS = 2_000;

/** How many times the build tries to drop its log and retire the other tables (then the next opening does). */
const FINISH_ATTEMPTS = 10;

/** How many values one batch indexes: its row locks hold writes of those keys for a few milliseconds. */
const BUILD_BATCH = 1_000;

export type BuildStep =
  /** The table is whole (this batch made it so, or another process's did). */
  | { state: 'built'; valuesDone: number }
  | { state: 'more'; valuesDone: number }
  /** The record of this fingerprint is gone: a process of another indexer built its own table and retired this one. */
  | { state: 'superseded' };

/** The indexer threw for a stored value: the build cannot go on until the indexer is fixed. */
export class IndexerThrew {
  readonly key: string;
  readonly error: unknown;
  constructor(key: string, error: unknown) {
    this.key = key;
    this.error = error;
  }
}

/**
 * The next step of `resolved`'s build, inside transaction `tx`: a batch of the values in key
 * order until every key is scanned; then a batch of the keys the change log says were written
 * meanwhile; then, once fewer are left than a batch, the last ones with writes held off for the
 * moment it takes, and the table marked whole.
 */
export async function buildStep(
  tx: CommonQueryMethods,
  tables: StoreTables,
  index: IndexDefinition,
  resolved: ResolvedIndex,
  lockTimeoutMs: number,
): Promise<BuildStep> {
  const indexId = index.id.value;
  const thisRecord = sql.fragment`index_id = ${indexId} AND fingerprint = ${resolved.fingerprint}`;
  const progress = (await tx.maybeOne(sql.unsafe`
    SELECT built, scanned, built_through, values_done FROM ${tables.indexes} WHERE ${thisRecord}
    FOR UPDATE`)) as { built: boolean; scanned: boolean; built_through: string | null; values_done: number } | null;
  if (progress === null) return { state: 'superseded' };
  const done = Number(progress.values_done);
  if (progress.built) return { state: 'built', valuesDone: done };

  if (!progress.scanned) {
    const after = progress.built_through;
    const batch = (await tx.any(sql.unsafe`
      SELECT key, value::text AS value FROM ${tables.main}
      ${after === null ? sql.fragment`` : sql.fragment`WHERE key > ${after}`}
      ORDER BY key LIMIT ${BUILD_BATCH}
      FOR SHARE`)) as readonly { key: string; value: string }[];
    if (batch.length === 0) {
      await tx.query(sql.unsafe`UPDATE ${tables.indexes} SET scanned = true, built_through = NULL WHERE ${thisRecord}`);
      return { state: 'more', valuesDone: done };
    }
    await writeEntries(tx, index, resolved, batch);
    await tx.query(sql.unsafe`
      UPDATE ${tables.indexes} SET built_through = ${batch[batch.length - 1]!.key}, values_done = values_done + ${batch.length}
      WHERE ${thisRecord}`);
    return { state: 'more', valuesDone: done + batch.length };
  }

  const logged = (await tx.any(
    sql.unsafe`SELECT id, key FROM ${resolved.changes} ORDER BY id LIMIT ${BUILD_BATCH}`,
  )) as readonly { id: number; key: string }[];
  if (logged.length === BUILD_BATCH) {
    await reindex(tx, tables, index, resolved, logged);
    return { state: 'more', valuesDone: done };
  }

  // The last step holds off every write of the store, so that nothing is logged after the log
  // is read whole. Every write that comes meanwhile queues behind this lock, so it is not waited
  // for long (lock_timeout, which the build raises at each failed try): a long write in
  // progress makes it fail, and it is tried again. The trigger is disabled, not dropped:
  // dropping it would lock the table against readers too (finishBuild does, after).
  await lockTimeout(tx, lockTimeoutMs);
  await tx.query(sql.unsafe`LOCK TABLE ${tables.main} IN SHARE ROW EXCLUSIVE MODE`);
  const rest = (await tx.any(sql.unsafe`SELECT id, key FROM ${resolved.changes}`)) as readonly {
    id: number;
    key: string;
  }[];
  await reindex(tx, tables, index, resolved, rest);
  await tx.query(sql.unsafe`ALTER TABLE ${tables.main} DISABLE TRIGGER ${resolved.changes}`);
  await tx.query(sql.unsafe`UPDATE ${tables.indexes} SET built = true WHERE ${thisRecord}`);
  return { state: 'built', valuesDone: done };
}

/**
 * After the table is whole, in its own transaction: its change log dropped, the index's other
 * tables retired (postgres-schema.ts, finishBuild), waiting at most `lockTimeoutMs` for each.
 */
export async function finishStep(
  tx: CommonQueryMethods,
  tables: StoreTables,
  index: IndexDefinition,
  resolved: ResolvedIndex,
  lockTimeoutMs: number,
): Promise<void> {
  await lockTimeout(tx, lockTimeoutMs);
  await tx.query(sql.unsafe`SELECT ${schemaLock(tables)}`);
  await finishBuild(tx, tables, index.id.value, resolved);
}

/**
 * Indexes again the keys of `logged` (their current values, locked; a key without one loses its
 * entries) and takes them off the log.
 */
async function reindex(
  tx: CommonQueryMethods,
  tables: StoreTables,
  index: IndexDefinition,
  resolved: ResolvedIndex,
  logged: readonly { id: number; key: string }[],
): Promise<void> {
  if (logged.length === 0) return;
  const keys = [...new Set(logged.map((row) => row.key))];
  const current = (await tx.any(sql.unsafe`
    SELECT key, value::text AS value FROM ${tables.main} WHERE key = ANY(${sql.array(keys, 'text')})
    ORDER BY key FOR SHARE`)) as readonly { key: string; value: string }[];
  await writeEntries(tx, index, resolved, current, keys);
  await tx.query(
    sql.unsafe`DELETE FROM ${resolved.changes} WHERE id = ANY(${sql.array(
      logged.map((row) => row.id),
      'int8',
    )})`,
  );
}

/**
 * Makes the table's entries of `keys` (default: the batch's) what the indexer yields for the
 * batch's values; an indexer that throws is reported with the key it threw for.
 */
async function writeEntries(
  tx: CommonQueryMethods,
  index: IndexDefinition,
  resolved: ResolvedIndex,
  batch: readonly { key: string; value: string }[],
  keys: readonly string[] = batch.map((row) => row.key),
): Promise<void> {
  let current = '';
  const entries = function* (): Iterable<[string, Json]> {
    for (const row of batch) {
      current = row.key;
      yield [row.key, JSON.parse(row.value) as Json];
    }
  };
  let rows;
  try {
    rows = manyIndexRows(index, entries());
  } catch (err) {
    throw new IndexerThrew(current, err);
  }
  await tx.query(
    sql.unsafe`WITH ${sql.join(replaceIndexRows(resolved.table, 0, keys, rows), sql.fragment`, `)} SELECT 1`,
  );
}

export interface IndexBuildOptions {
  pool: DatabasePool;
  tables: StoreTables;
  index: IndexDefinition;
  resolved: ResolvedIndex;
  storeId: string;
  log: Logger | undefined;
}

/**
 * One process's part in building an index's table: batches, one after another, until the table
 * is whole (by this process's batches or another's), logging progress; reads of the index wait
 * on whenBuilt().
 */
export class IndexBuild {
  readonly #options: IndexBuildOptions;
  #state: 'building' | 'built' | 'failed' = 'building';
  #failure: InfraError | undefined;
  #valuesDone = 0;
  #total: number | undefined;
  /** Why the last step failed, while the steps fail: a build that cannot go on says why. */
  #trouble: string | undefined;
  /** The last step's lock_timeout: short at first, so that the writes it holds off wait little. */
  #lockTimeoutMs = FIRST_LOCK_TIMEOUT_MS;
  #stopped = false;
  readonly #settled: Promise<void>;
  #settle: () => void = () => {};

  constructor(options: IndexBuildOptions) {
    this.#options = options;
    this.#settled = new Promise<void>((resolve) => (this.#settle = resolve));
  }

  get #indexId(): string {
    return this.#options.index.id.value;
  }

  start(): void {
    void this.#run();
  }

  /** Stops after the step under way (the store is closing); another process, or the next start, goes on. */
  stop(): void {
    this.#stopped = true;
    this.#settle();
  }

  /** Resolves once the table is whole; throws when the build failed, or is still going after `ms`. */
  async whenBuilt(ms: number): Promise<void> {
    if (this.#state === 'building') {
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        this.#settled.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
      ]);
      clearTimeout(timer);
      if (!waited) throw errors.indexRebuilding(this.#indexId, this.#progress(), ms / 1000);
    }
    if (this.#state === 'failed') throw this.#failure!;
    if (this.#state === 'building') throw errors.storeClosed(this.#options.storeId);
  }

  #progress(): string {
    const done = this.#valuesDone.toLocaleString('en');
    const trouble = this.#trouble === undefined ? '' : `; its last step failed, and is tried again: ${this.#trouble}`;
    if (this.#total === undefined || this.#total === 0) return `${done} values so far${trouble}`;
    const percent = Math.min(100, Math.floor((this.#valuesDone / this.#total) * 100));
    return `${done} of ${this.#total.toLocaleString('en')} values, ${percent} %${trouble}`;
  }

  async #run(): Promise<void> {
    const { tables, storeId, log } = this.#options;
    const started = performance.now();
    let reported = started;
    const what = `Store ${storeId}: index ${this.#indexId}`;
    try {
      const count = await this.#withinDeadline((c) => c.oneFirst(sql.unsafe`SELECT count(*) FROM ${tables.main}`));
      this.#total = Number(count);
    } catch {
      // Only for the progress messages; the steps will say what is wrong.
    }
    log?.info(
      `${what} is being built from the store's values, as its indexer is new to this database` +
        (this.#total === undefined ? '' : ` (${this.#total.toLocaleString('en')} values)`) +
        `; reads of it wait until it is whole, writes go on`,
    );
    while (!this.#stopped) {
      let step: BuildStep;
      try {
        step = await this.#withinDeadline((c) =>
          c.transaction(
            (tx) => buildStep(tx, tables, this.#options.index, this.#options.resolved, this.#lockTimeoutMs),
            0,
          ),
        );
      } catch (err) {
        if (err instanceof IndexerThrew) {
          this.#fail(indexerThrew(this.#options.index, err.key, err.error));
          return;
        }
        await this.#retryAfter(what, err);
        continue;
      }
      if (step.state === 'superseded') {
        this.#fail(
          errors.indexRebuildFailed(
            this.#indexId,
            'a process running another version of its indexer built its own table of the index meanwhile, which ' +
              "retired this process's. Run one version of the app at a time, and restart this process",
          ),
        );
        return;
      }
      this.#valuesDone = step.valuesDone;
      this.#trouble = undefined;
      if (step.state === 'built') {
        this.#state = 'built';
        this.#options.resolved.built = true;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        log?.info(`${what} is built: ${this.#progress()}, in ${seconds} s`);
        this.#settle();
        await this.#finish(what);
        return;
      }
      const now = performance.now();
      if (now - reported >= REPORT_EVERY_MS) {
        reported = now;
        log?.info(`${what} is being built: ${this.#progress()}`);
      }
    }
  }

  /**
   * The change log dropped and the other tables retired, tried a few times; what is still left
   * after, the next opening of the store does (postgres-schema.ts, resolveIndex).
   */
  async #finish(what: string): Promise<void> {
    const { tables, index, resolved } = this.#options;
    for (let attempt = 0; attempt < FINISH_ATTEMPTS && !this.#stopped; attempt++) {
      try {
        await this.#withinDeadline((c) =>
          c.transaction((tx) => finishStep(tx, tables, index, resolved, this.#lockTimeoutMs), 0),
        );
        return;
      } catch (err) {
        await this.#retryAfter(what, err);
      }
    }
  }

  /**
   * After a failed step: its reason kept for the progress, said in the log once (a lock the step
   * did not get in time is expected, and said as information), the next lock timeout longer.
   */
  async #retryAfter(what: string, err: unknown): Promise<void> {
    const first = this.#trouble === undefined;
    this.#trouble = messageOf(err);
    if (isLockTimeout(err)) {
      this.#lockTimeoutMs = Math.min(this.#lockTimeoutMs * 2, LAST_LOCK_TIMEOUT_MS);
      if (first) this.#options.log?.info(`${what}: a step of its build waited too long for a lock; trying again`);
    } else if (first) this.#options.log?.error(`${what}: a step of its build failed; trying again every second`, err);
    await sleep(isLockTimeout(err) ? 100 : 1_000);
  }

  #fail(failure: InfraError): void {
    this.#state = 'failed';
    this.#failure = failure;
    this.#options.log?.error(messageOf(failure));
    this.#settle();
  }

  /**
   * `fn` on a connection of the pool, given up after STEP_TIMEOUT_MS (a database that hangs
   * answers nothing): the handler then throws, so slonik destroys the connection.
   */
  async #withinDeadline<R>(fn: (connection: DatabasePoolConnection) => Promise<R>): Promise<R> {
    const deadline = new Deadline(STEP_TIMEOUT_MS);
    try {
      return await deadline.race(this.#options.pool.connect((c) => deadline.race(fn(c))));
    } finally {
      deadline.clear();
    }
  }
}

/** PostgreSQL's lock_not_available (a lock not got within lock_timeout), anywhere in the error's causes. */
function isLockTimeout(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === '55P03') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
