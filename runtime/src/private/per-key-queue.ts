/**
 * Runs work one after another for each key, any number of keys at once: what an in-memory lock
 * per key does, and what keeps a key's writes in order. A key's queue is forgotten once it is
 * empty, so keys that come and go leave nothing behind.
 */
export class PerKeyQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once the work queued before it for `key` has settled (whether it failed or not). */
  run<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
