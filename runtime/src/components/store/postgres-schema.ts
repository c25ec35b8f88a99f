/**
 * The PostgreSQL tables of one Store: a table named from the store's ID holding key → value,
 * and a table per index holding (index key, key) → inline value. Created idempotently on
 * first use, so a fresh database needs no migration step.
 *
 * Keys are `text COLLATE "C"`: "C" compares UTF-8 bytes, which orders strings by code point,
 * as the memory backend does (compareCodePoints), whatever the database's locale.
 *
 * Values are `json`, not `jsonb`: `json` keeps the exact text it is given (still checked to be
 * JSON by the server), so a value comes back as JSON.parse(JSON.stringify(v)) would give it,
 * with its key order; `jsonb` reorders object keys and rejects "\u0000" inside strings, which
 * JSON allows and the Store contract stores. Nothing here queries inside values, so `jsonb`'s
 * operators would buy nothing.
 */
import { sql, type CommonQueryMethods, type FragmentSqlToken, type IdentifierSqlToken } from 'slonik';
import { shortHash } from '../../private/hash.ts';
import type { ID } from '../../core/id.ts';

/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes), which could make two names one. */
const IDENTIFIER_MAX = 63;

export interface IndexTable {
  /** The index table. */
  table: IdentifierSqlToken;
  /** Its B-tree on `key` alone, for replacing a key's rows. */
  byKey: IdentifierSqlToken;
  /**
   * While the table is being built: the log of keys written meanwhile, its trigger on the
   * store's table and the trigger's function, all of this name (see createChangeLog).
   */
  changes: IdentifierSqlToken;
}

/** An index as this process's code defines it: its ID and its indexer's fingerprint. */
export interface IndexVersion {
  id: ID;
  fingerprint: string;
}

/** Where an index's entries for this process's indexer live, and whether they are whole yet. */
export interface ResolvedIndex extends IndexTable {
  fingerprint: string;
  /** False while the table is being built from the values (postgres-index-build.ts). */
  built: boolean;
}

export interface StoreTables {
  /** The store's SQL name: its table's, and its schema lock's. */
  name: string;
  main: IdentifierSqlToken;
  /**
   * The store's record of its indexes (`<store>:indexes`): per index and fingerprint, the table
   * that holds its entries, whether they are whole, and how far a build got.
   */
  indexes: IdentifierSqlToken;
}

export function storeTables(storeId: ID): StoreTables {
  return {
    name: storeId.sqlName,
    main: sql.identifier([storeId.sqlName]),
    indexes: sql.identifier([derivedName(storeId.sqlName, 'indexes')]),
  };
}

/**
 * A name for an object that belongs to table `base`. SQL names derived from IDs contain only
 * [a-z0-9_], so the ":" keeps it from ever equalling a table's name.
 */
function derivedName(base: string, suffix: string): string {
  const name = `${base}:${suffix}`;
  if (name.length <= IDENTIFIER_MAX) return name;
  const tail = `:${shortHash(base)}:${suffix}`;
  return base.slice(0, IDENTIFIER_MAX - tail.length) + tail;
}

function indexTable(name: string): IndexTable {
  return {
    table: sql.identifier([name]),
    byKey: sql.identifier([derivedName(name, 'by-key')]),
    changes: sql.identifier([derivedName(name, 'changes')]),
  };
}

/**
 * The store's schema lock: one process at a time creates the store's tables or changes its
 * record of indexes. One lock per store, so that a store waiting on its own (a trigger to make
 * behind a long write) holds up no other store's opening.
 */
export function schemaLock(tables: StoreTables): FragmentSqlToken {
  return sql.fragment`pg_advisory_xact_lock(hashtextextended(${`infra-generator: store ${tables.name}`}, 0))`;
}

/**
 * The longest the schema's statements wait for a lock on the store's table: past it, the
 * opening fails, and the next call tries again.
 */
const SCHEMA_LOCK_TIMEOUT_MS = 2_000;

/** How long the statements of transaction `tx` wait for a lock before failing (lock_timeout, for this transaction). */
export async function lockTimeout(tx: CommonQueryMethods, ms: number): Promise<void> {
  await tx.query(sql.unsafe`SELECT set_config('lock_timeout', ${`${ms}ms`}, true)`);
}

/**
 * Creates the tables if they are missing, and finds (or makes) each index's table for this
 * process's indexer, under the store's schema lock (concurrent CREATE TABLE IF NOT EXISTS of
 * one name can still fail: both sessions pass the existence check, one then hits a unique
 * violation in the catalog). Indexes the code no longer has are forgotten, tables and records.
 *
 * An index's table, for an indexer whose fingerprint the record does not have, is a new one,
 * named from the index's ID (and the fingerprint when that name is taken): whole at once for a
 * new index of an empty store, else to be built from the values (postgres-index-build.ts),
 * after which it replaces the index's other tables. A table named from the ID with no record
 * was made before indexes had fingerprints, by an indexer that may not be this one: it is
 * recorded as another's, and so replaced.
 */
export async function createTables(
  db: CommonQueryMethods,
  tables: StoreTables,
  indexes: readonly IndexVersion[],
): Promise<ResolvedIndex[]> {
  return db.transaction(async (tx) => {
    await lockTimeout(tx, SCHEMA_LOCK_TIMEOUT_MS);
    await tx.query(sql.unsafe`SELECT ${schemaLock(tables)}`);
    // `value` is NULL only for a moment inside modify()'s own transaction (see postgres.ts); no
    // committed row has it.
    await tx.query(
      sql.unsafe`CREATE TABLE IF NOT EXISTS ${tables.main} (key text COLLATE "C" PRIMARY KEY, value json)`,
    );
    if (indexes.length === 0) {
      // An index the code no longer has: forgotten, so that adding it back builds it afresh.
      const recorded = (await tx.oneFirst(
        sql.unsafe`SELECT to_regclass(${quoted(tables.name, 'indexes')}) IS NOT NULL`,
      )) as boolean;
      if (recorded) await forgetIndexesBut(tx, tables, []);
      return [];
    }
    await tx.query(sql.unsafe`
      CREATE TABLE IF NOT EXISTS ${tables.indexes} (
        index_id text COLLATE "C" NOT NULL,
        fingerprint text COLLATE "C" NOT NULL,
        table_name text NOT NULL,
        built boolean NOT NULL,
        scanned boolean NOT NULL DEFAULT false,
        built_through text COLLATE "C",
        values_done bigint NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (index_id, fingerprint)
      )`);
    await forgetIndexesBut(
      tx,
      tables,
      indexes.map((index) => index.id.value),
    );
    const resolved: ResolvedIndex[] = [];
    for (const index of indexes) resolved.push(await resolveIndex(tx, tables, index));
    return resolved;
  }, 0);
}

async function resolveIndex(db: CommonQueryMethods, tables: StoreTables, index: IndexVersion): Promise<ResolvedIndex> {
  const { fingerprint } = index;
  const idText = index.id.value;
  const known = (await db.maybeOne(sql.unsafe`
    SELECT table_name, built FROM ${tables.indexes} WHERE index_id = ${idText} AND fingerprint = ${fingerprint}`)) as {
    table_name: string;
    built: boolean;
  } | null;
  if (known) {
    const resolved = { ...indexTable(known.table_name), fingerprint, built: known.built };
    // What a build that ended did not finish (its process stopped, a lock it waited for too
    // long): done here if it can be, without failing the opening (a savepoint) if it cannot.
    if (known.built)
      await db.transaction((savepoint) => finishBuild(savepoint, tables, idText, resolved)).catch(() => {});
    return resolved;
  }

  const plainName = index.id.sqlName;
  const plainExists = (await db.oneFirst(sql.unsafe`SELECT to_regclass(${quoted(plainName)}) IS NOT NULL`)) as boolean;
  let others = (await db.anyFirst(sql.unsafe`
    SELECT table_name FROM ${tables.indexes} WHERE index_id = ${idText}`)) as readonly string[];
  if (plainExists && !others.includes(plainName)) {
    // Made before indexes had fingerprints: whose indexer's entries it holds is not known (the
    // same deployment may have changed it), so it is recorded as another's, to be replaced.
    await record(db, tables, idText, 'unknown: made before fingerprints', plainName, true);
    others = [...others, plainName];
  }
  const name = others.includes(plainName) ? derivedName(plainName, fingerprint.slice(0, 16)) : plainName;
  const made = indexTable(name);
  await db.query(sql.unsafe`
    CREATE TABLE ${made.table} (
      index_key text COLLATE "C" NOT NULL,
      key text COLLATE "C" NOT NULL,
      inline_value json,
      PRIMARY KEY (index_key, key)
    )`);
  await db.query(sql.unsafe`CREATE INDEX ${made.byKey} ON ${made.table} (key)`);
  // Whole at once only for a new index of an empty store. Where the index has other tables,
  // a process of their code may be writing a first value right now (uncommitted, unseen
  // here): the build's log and its last step, with writes held off, catch it.
  const whole =
    others.length === 0 && ((await db.oneFirst(sql.unsafe`SELECT NOT EXISTS (SELECT FROM ${tables.main})`)) as boolean);
  if (!whole) await createChangeLog(db, tables, made);
  await record(db, tables, idText, fingerprint, name, whole);
  return { ...made, fingerprint, built: whole };
}

/** `"name"` (or `"name:suffix"`, as derivedName makes it), for to_regclass(). */
function quoted(name: string, suffix?: string): string {
  return `"${suffix === undefined ? name : derivedName(name, suffix)}"`;
}

/** Forgets every index of the store but `kept` (IDs): their records and their tables. */
async function forgetIndexesBut(db: CommonQueryMethods, tables: StoreTables, kept: readonly string[]): Promise<void> {
  const forgotten = (await db.anyFirst(sql.unsafe`
    DELETE FROM ${tables.indexes} WHERE NOT (index_id = ANY(${sql.array([...kept], 'text')}))
    RETURNING table_name`)) as readonly string[];
  for (const name of forgotten) await dropIndexTable(db, tables, indexTable(name));
}

async function record(
  db: CommonQueryMethods,
  tables: StoreTables,
  indexId: string,
  fingerprint: string,
  tableName: string,
  built: boolean,
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO ${tables.indexes} (index_id, fingerprint, table_name, built)
    VALUES (${indexId}, ${fingerprint}, ${tableName}, ${built})`);
}

/**
 * What is left to do once `resolved`'s table is whole: drop its change log (the trigger was
 * disabled when it was marked whole), and the tables of the index's other fingerprints with
 * their records. No process of this code reads them, and a process of the code that made one
 * would find it stale (a later return to that code builds its table afresh). Each DROP waits
 * for the table's readers and writers, at most the schema's lock timeout; what it could not do,
 * the next opening of the store does.
 */
export async function finishBuild(
  db: CommonQueryMethods,
  tables: StoreTables,
  indexId: string,
  resolved: ResolvedIndex,
): Promise<void> {
  await dropChangeLog(db, tables, resolved);
  const retired = (await db.anyFirst(sql.unsafe`
    DELETE FROM ${tables.indexes} WHERE index_id = ${indexId} AND fingerprint <> ${resolved.fingerprint}
    RETURNING table_name`)) as readonly string[];
  for (const name of retired) await dropIndexTable(db, tables, indexTable(name));
}

/**
 * The log of the keys written while an index's table is built, filled by a trigger on the
 * store's table: so that the build also catches the writes of processes that do not write
 * this table (a process of the earlier code, still running during a rolling update, writes
 * only its own). Each write adds a row (an id from a sequence, the key), never updates one: a
 * row the build has read and indexed is deleted by its id, and a write that comes after that
 * read has a row of its own, which the build reads next time.
 */
async function createChangeLog(db: CommonQueryMethods, tables: StoreTables, index: IndexTable): Promise<void> {
  await db.query(
    sql.unsafe`CREATE TABLE ${index.changes} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text COLLATE "C" NOT NULL)`,
  );
  await db.query(sql.unsafe`
    CREATE FUNCTION ${index.changes}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO ${index.changes} (key) VALUES (OLD.key);
      ELSE
        INSERT INTO ${index.changes} (key) VALUES (NEW.key);
      END IF;
      RETURN NULL;
    END $$`);
  await db.query(sql.unsafe`
    CREATE TRIGGER ${index.changes} AFTER INSERT OR UPDATE OR DELETE ON ${tables.main}
    FOR EACH ROW EXECUTE FUNCTION ${index.changes}()`);
}

/** Drops the change log of an index table (its trigger first, then its function and table), where there is one. */
export async function dropChangeLog(db: CommonQueryMethods, tables: StoreTables, index: IndexTable): Promise<void> {
  // DROP TRIGGER locks the store's table whole, even IF EXISTS finds none: only when there is one.
  const exists = (await db.oneFirst(
    sql.unsafe`SELECT to_regclass(${quoted(index.changes.names[0]!)}) IS NOT NULL`,
  )) as boolean;
  if (!exists) return;
  await db.query(sql.unsafe`DROP TRIGGER IF EXISTS ${index.changes} ON ${tables.main}`);
  await db.query(sql.unsafe`DROP FUNCTION IF EXISTS ${index.changes}()`);
  await db.query(sql.unsafe`DROP TABLE IF EXISTS ${index.changes}`);
}

async function dropIndexTable(db: CommonQueryMethods, tables: StoreTables, index: IndexTable): Promise<void> {
  await dropChangeLog(db, tables, index);
  await db.query(sql.unsafe`DROP TABLE IF EXISTS ${index.table}`);
}
