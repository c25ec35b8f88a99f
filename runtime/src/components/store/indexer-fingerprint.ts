/**
 * The fingerprint of an indexer: what says, where an index's entries live, which function made
 * them, so that a Store whose indexer changed rebuilds the index instead of serving entries the
 * new function would not yield.
 *
 * It is the hash of the function's syntax tree (acorn), not of its text: whitespace, comments,
 * quotes, parentheses and the semicolons a compiler adds do not count, so the same indexer
 * gives the same fingerprint whether Node strips its types or tsc compiled it, and any change
 * to what it does changes its fingerprint. What the tree cannot show is what the indexer calls
 * (a helper, a constant of its module): the index's `version` option is for that.
 */
import { createHash } from 'node:crypto';

/** The index options that take part in the fingerprint. */
export interface FingerprintedIndex {
  readonly indexer: (...args: any[]) => unknown;
  readonly version?: string | number;
}

/** Keys of acorn's nodes that say where the text was or how it was spelled, not what it does. */
const SPELLING = new Set(['start', 'end', 'loc', 'range', 'raw']);

let parser: Promise<typeof import('acorn')> | undefined;

/** A hex SHA-256 of the indexer's normalised syntax tree and the index's `version`. */
export async function indexerFingerprint(index: FingerprintedIndex): Promise<string> {
  // Loaded only by a store with indexes, when it opens: an app without indexes never pays for it.
  const acorn = await (parser ??= import('acorn'));
  const text = Function.prototype.toString.call(index.indexer);
  const tree = syntaxOf(acorn, text);
  const normalised =
    tree === undefined
      ? `text ${text}`
      : JSON.stringify(tree, (key, value: unknown) =>
          SPELLING.has(key) ? undefined : typeof value === 'bigint' ? `${value}n` : value,
        );
  const version = index.version === undefined ? '' : `\nversion ${typeof index.version} ${index.version}`;
  return createHash('sha256')
    .update(normalised + version)
    .digest('hex');
}

/**
 * The expression `text` is, parsed: an arrow function or a function expression as it is, a
 * method (`byName(value) { … }`, as an object literal's shorthand reads) inside braces. A native
 * or bound function has no source: undefined, and its text stands for it.
 */
function syntaxOf(acorn: typeof import('acorn'), text: string): unknown {
  for (const wrapped of [`(${text})`, `({${text}})`]) {
    try {
      return acorn.parseExpressionAt(wrapped, 0, { ecmaVersion: 'latest', sourceType: 'module' });
    } catch {
      // Not this shape; try the next.
    }
  }
  return undefined;
}
