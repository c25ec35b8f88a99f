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
import { sql, type CommonQueryMethods, type IdentifierSqlToken } from 'slonik';
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
  main: IdentifierSqlToken;
  /**
   * The store's record of its indexes (`<store>:indexes`): per index and fingerprint, the table
   * that holds its entries, whether they are whole, and how far a build got.
   */
  indexes: IdentifierSqlToken;
}

export function storeTables(storeId: ID): StoreTables {
  return {
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

/** The schema's lock: one process at a time creates tables or changes the record of indexes. */
export const SCHEMA_LOCK = sql.fragment`pg_advisory_xact_lock(hashtextextended('infra-generator: store schema', 0))`;

/**
 * Creates the tables if they are missing, and finds (or makes) each index's table for this
 * process's indexer. Concurrent CREATE TABLE IF NOT EXISTS of one name can still fail (both
 * sessions pass the existence check, one then hits a unique violation in the catalog), so
 * every process takes one transaction-scoped advisory lock first; it is released at commit and
 * held only for the few milliseconds this takes.
 *
 * An index's table, for an indexer whose fingerprint the record does not have:
 * - a table named from the index's ID with no record at all was made before indexes had
 *   fingerprints, when changing an indexer meant changing the ID: it is this indexer's;
 * - otherwise a new table, named from the ID (and the fingerprint when that name is taken),
 *   whole at once when the store has no values, else to be built from them. Once built, it
 *   replaces the tables of the index's other fingerprints (postgres-index-build.ts).
 */
export async function createTables(
  db: CommonQueryMethods,
  tables: StoreTables,
  indexes: readonly IndexVersion[],
): Promise<ResolvedIndex[]> {
  return db.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT ${SCHEMA_LOCK}`);
    // `value` is NULL only for a moment inside modify()'s own transaction (see postgres.ts); no
    // committed row has it.
    await tx.query(
      sql.unsafe`CREATE TABLE IF NOT EXISTS ${tables.main} (key text COLLATE "C" PRIMARY KEY, value json)`,
    );
    if (indexes.length === 0) return [];
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
  if (known) return { ...indexTable(known.table_name), fingerprint, built: known.built };

  const others = (await db.anyFirst(sql.unsafe`
    SELECT table_name FROM ${tables.indexes} WHERE index_id = ${idText}`)) as readonly string[];
  const plainName = index.id.sqlName;
  const plainExists = (await db.oneFirst(sql.unsafe`SELECT to_regclass(${`"${plainName}"`}) IS NOT NULL`)) as boolean;
  if (others.length === 0 && plainExists) {
    await record(db, tables, idText, fingerprint, plainName, true);
    return { ...indexTable(plainName), fingerprint, built: true };
  }
  const name = plainExists || others.includes(plainName) ? derivedName(plainName, fingerprint.slice(0, 16)) : plainName;
  const made = indexTable(name);
  // A table of this name without a record is what a failed attempt left: start it afresh.
  await dropIndexTable(db, tables, made);
  await db.query(sql.unsafe`
    CREATE TABLE ${made.table} (
      index_key text COLLATE "C" NOT NULL,
      key text COLLATE "C" NOT NULL,
      inline_value json,
      PRIMARY KEY (index_key, key)
    )`);
  await db.query(sql.unsafe`CREATE INDEX ${made.byKey} ON ${made.table} (key)`);
  const empty = (await db.oneFirst(sql.unsafe`SELECT NOT EXISTS (SELECT FROM ${tables.main})`)) as boolean;
  if (!empty) await createChangeLog(db, tables, made);
  await record(db, tables, idText, fingerprint, name, empty);
  if (empty) await retireOthers(db, tables, idText, fingerprint);
  return { ...made, fingerprint, built: empty };
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
 * Drops the tables of the index's other fingerprints and their records, once `fingerprint`'s
 * table is whole: no process of this code reads them, and a process of the code that made one
 * would find it stale (a later return to that code builds its table afresh).
 */
export async function retireOthers(
  db: CommonQueryMethods,
  tables: StoreTables,
  indexId: string,
  fingerprint: string,
): Promise<void> {
  const retired = (await db.anyFirst(sql.unsafe`
    DELETE FROM ${tables.indexes} WHERE index_id = ${indexId} AND fingerprint <> ${fingerprint}
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

/** Drops the change log of an index table whose build is over (its trigger first, then its function and table). */
export async function dropChangeLog(db: CommonQueryMethods, tables: StoreTables, index: IndexTable): Promise<void> {
  await db.query(sql.unsafe`DROP TRIGGER IF EXISTS ${index.changes} ON ${tables.main}`);
  await db.query(sql.unsafe`DROP FUNCTION IF EXISTS ${index.changes}()`);
  await db.query(sql.unsafe`DROP TABLE IF EXISTS ${index.changes}`);
}

async function dropIndexTable(db: CommonQueryMethods, tables: StoreTables, index: IndexTable): Promise<void> {
  await dropChangeLog(db, tables, index);
  await db.query(sql.unsafe`DROP TABLE IF EXISTS ${index.table}`);
}
