/**
 * What may be a key or an index key, checked in one place for every backend (through the
 * Store facade and `indexEntries`), so that a key that works in one process works deployed.
 */
import { isStorableText } from './storable-text.ts';
import { errors } from '../../core/errors.ts';

/**
 * The most bytes of UTF-8 in a key or an index key. PostgreSQL's B-tree holds at most about
 * 2,700 bytes per index entry (a third of an 8 kB page), after any compression; an index
 * table's primary key entry holds an index key and a key together, with under 20 bytes of
 * headers ("C" collation stores the bytes as they are), so 1,024 each leaves room to spare.
 * One round number for both, the same in memory.
 */
export const MAX_KEY_BYTES = 1024;

/** Throws unless `key` can be a key of `store` in every mode. */
export function checkKey(store: string, key: unknown): asserts key is string {
  // PostgreSQL text holds neither NUL nor an unpaired surrogate, so memory refuses them too.
  if (typeof key !== 'string' || key.length === 0 || !isStorableText(key)) throw errors.invalidKey(store, key);
  checkLength('Store', store, 'key', key);
}

/** Throws unless `indexKey` can be an index key of `index` in every mode. */
export function checkIndexKey(index: string, indexKey: unknown): asserts indexKey is string {
  if (typeof indexKey !== 'string' || !isStorableText(indexKey)) throw errors.invalidIndexKey(index, indexKey);
  checkLength('Index', index, 'index key', indexKey);
}

function checkLength(kind: string, id: string, what: string, text: string): void {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8, so short keys need no counting.
  if (text.length * 3 <= MAX_KEY_BYTES) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw errors.keyTooLong(kind, id, what, bytes, MAX_KEY_BYTES);
}
