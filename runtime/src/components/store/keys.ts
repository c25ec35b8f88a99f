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

/** Throws unless `prefix` can start keys of `store` (the empty prefix starts them all). */
export function checkPrefix(store: string, call: string, prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !isStorableText(prefix)) throw errors.invalidPrefix(store, call, prefix);
  if (prefix.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES)
    throw errors.invalidPrefix(store, call, prefix);
}

/**
 * The least text greater than every text that starts with `prefix`, in code-point order (the
 * order of PostgreSQL's "C" collation); undefined for the empty prefix (no bound), or when no text
 * is greater (a prefix of U+10FFFF only). Its last code point is stepped up, skipping the
 * surrogates, which no key holds.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix].map((ch) => ch.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

function checkLength(kind: string, id: string, what: string, text: string): void {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8, so short keys need no counting.
  if (text.length * 3 <= MAX_KEY_BYTES) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw errors.keyTooLong(kind, id, what, bytes, MAX_KEY_BYTES);
}
