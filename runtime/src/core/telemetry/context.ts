/**
 * The OpenTelemetry Context the runtime starts its traces from: a chain of the values set on
 * it. Setting a value (a span, an extracted caller) makes one small object, where the API's
 * own ROOT_CONTEXT (a BaseContext) copies its whole Map, through an iterator, at each step. A
 * traced API call sets three or four (the caller's span context, the server's span, the
 * client's span): about a kilobyte a call that the API's contexts allocate and these do not.
 * Contexts derived from it behave as the API's: immutable, the latest value of a key wins,
 * a deleted key reads undefined.
 */
import type { Context } from '@opentelemetry/api';

/**
 * Past this many links more than it had when last written out, a context is written out afresh,
 * one link per key still set.
 */
const MAX_DEPTH = 16;

class ChainContext implements Context {
  readonly #parent: ChainContext | undefined;
  readonly #key: symbol | undefined;
  readonly #value: unknown;
  readonly #depth: number;
  /** The depth at which the chain is written out afresh: with many keys set, not at every step. */
  readonly #compactAt: number;

  constructor(parent: ChainContext | undefined, key: symbol | undefined, value: unknown, compactAt?: number) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
    this.#depth = parent === undefined ? 0 : parent.#depth + 1;
    this.#compactAt = compactAt ?? (parent === undefined ? MAX_DEPTH : parent.#compactAt);
  }

  getValue(key: symbol): unknown {
    return ChainContext.#find(this, key);
  }

  static #find(from: ChainContext, key: symbol): unknown {
    for (let at: ChainContext | undefined = from; at !== undefined; at = at.#parent)
      if (at.#key === key) return at.#value;
    return undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return new ChainContext(this.#depth < this.#compactAt ? this : ChainContext.#compact(this), key, value);
  }

  deleteValue(key: symbol): Context {
    // A link to undefined hides the key's older value, as a Map's delete would.
    return this.getValue(key) === undefined ? this : this.setValue(key, undefined);
  }

  /** The same values, each key once (a context derived in a loop would otherwise grow without end). */
  static #compact(from: ChainContext): ChainContext {
    const latest = new Map<symbol, unknown>();
    for (let at: ChainContext | undefined = from; at !== undefined; at = at.#parent)
      if (at.#key !== undefined && !latest.has(at.#key)) latest.set(at.#key, at.#value);
    const kept = [...latest].filter(([, value]) => value !== undefined);
    const compactAt = kept.length + MAX_DEPTH;
    let compacted = CHAIN_ROOT;
    for (const [key, value] of kept) compacted = new ChainContext(compacted, key, value, compactAt);
    return compacted;
  }
}

/** The empty context: where a trace starts, and what the runtime's context manager gives outside any. */
const CHAIN_ROOT = new ChainContext(undefined, undefined, undefined);
export const ROOT: Context = CHAIN_ROOT;
