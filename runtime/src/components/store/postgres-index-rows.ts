/**
 * The index rows of many keys, and the statement parts that replace them in an index table:
 * what setMany() writes for each index, and what an index build writes for each batch.
 */
import { sql, type FragmentSqlToken, type IdentifierSqlToken } from 'slonik';
import type { Json } from '../../core/json.ts';
import { indexEntries, type IndexDefinition } from './backend.ts';

/** One index's rows for many keys, as three parallel arrays (bound as text[], text[] and json[]). */
export interface ManyIndexRows {
  keys: string[];
  indexKeys: string[];
  inlineValues: (string | null)[];
}

/** What `index`'s indexer yields for each `[key, value]` (undefined values yield nothing). */
export function manyIndexRows(
  index: IndexDefinition,
  entries: Iterable<readonly [string, Json | undefined]>,
): ManyIndexRows {
  const rows: ManyIndexRows = { keys: [], indexKeys: [], inlineValues: [] };
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    for (const [indexKey, inline] of indexEntries(index, key, value)) {
      rows.keys.push(key);
      rows.indexKeys.push(indexKey);
      rows.inlineValues.push(inline === undefined ? null : JSON.stringify(inline));
    }
  }
  return rows;
}

/**
 * Two common table expressions (named with `n`, unique in their statement) that make `table`'s
 * rows of `keys` exactly `rows`: delete the rows of `keys` that are not among the new ones, and
 * upsert the new ones (rewriting a row only when its inline value changed). The two touch
 * different rows, so they can share a statement.
 */
export function replaceIndexRows(
  table: IdentifierSqlToken,
  n: number,
  keys: readonly string[],
  rows: ManyIndexRows,
): FragmentSqlToken[] {
  const newKeys = sql.array(rows.keys, 'text');
  const newIndexKeys = sql.array(rows.indexKeys, 'text');
  return [
    sql.fragment`${sql.identifier([`stale_${n}`])} AS (
      DELETE FROM ${table} AS i WHERE i.key = ANY(${sql.array([...keys], 'text')}) AND NOT EXISTS (
        SELECT FROM unnest(${newKeys}, ${newIndexKeys}) AS n(key, index_key)
        WHERE n.key = i.key AND n.index_key = i.index_key))`,
    sql.fragment`${sql.identifier([`upsert_${n}`])} AS (
      INSERT INTO ${table} AS t (index_key, key, inline_value)
      SELECT e.index_key, e.key, e.inline_value
      FROM unnest(${newIndexKeys}, ${newKeys}, ${sql.array(rows.inlineValues, 'json')}) AS e(index_key, key, inline_value)
      ON CONFLICT (index_key, key) DO UPDATE SET inline_value = EXCLUDED.inline_value
      WHERE t.inline_value::text IS DISTINCT FROM EXCLUDED.inline_value::text)`,
  ];
}
