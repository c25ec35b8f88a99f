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
}

export interface StoreTables {
  main: IdentifierSqlToken;
  /** In the order of the store's indexes. */
  indexes: IndexTable[];
}

export function storeTables(storeId: ID, indexIds: readonly ID[]): StoreTables {
  return {
    main: sql.identifier([storeId.sqlName]),
    indexes: indexIds.map((id) => ({
      table: sql.identifier([id.sqlName]),
      byKey: sql.identifier([derivedName(id.sqlName, 'by-key')]),
    })),
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

/**
 * Creates the tables if they are missing. Concurrent CREATE TABLE IF NOT EXISTS of one name
 * can still fail (both sessions pass the existence check, one then hits a unique violation
 * in the catalog), so every process takes one transaction-scoped advisory lock first; it is
 * released at commit and held only for the few milliseconds this takes.
 */
export async function createTables(db: CommonQueryMethods, tables: StoreTables): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended('infra-generator: store schema', 0))`);
    // `value` is NULL only for a moment inside modify()'s own transaction (see postgres.ts); no
    // committed row has it.
    await tx.query(
      sql.unsafe`CREATE TABLE IF NOT EXISTS ${tables.main} (key text COLLATE "C" PRIMARY KEY, value json)`,
    );
    for (const index of tables.indexes) {
      await tx.query(sql.unsafe`
        CREATE TABLE IF NOT EXISTS ${index.table} (
          index_key text COLLATE "C" NOT NULL,
          key text COLLATE "C" NOT NULL,
          inline_value json,
          PRIMARY KEY (index_key, key)
        )`);
      await tx.query(sql.unsafe`CREATE INDEX IF NOT EXISTS ${index.byKey} ON ${index.table} (key)`);
    }
  }, 0);
}
