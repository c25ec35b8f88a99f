/**
 * Runs work one after another for each key, any number of keys at once: what an in-memory lock
 * per key does, and what keeps a key's writes in order. A key's queue is forgotten once it is
 * empty, so keys that come and go leave nothing behind.
 */
export class PerKeyQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once the work queued before it for `key` has settled (whether it failed or not). */
  run<R>(key: string, fn: () => Promise<R>): Promise<R> {
    // runAll's work for one key, without its arrays: this is on every write's path.
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

  /**
   * Runs `fn` once the work queued before it for every one of `keys` has settled, holding all of
   * them until it settles. It joins every key's queue at once (synchronously), so two calls that
   * share keys are in the same order in each of their queues and never wait for each other.
   */
  runAll<R>(keys: Iterable<string>, fn: () => Promise<R>): Promise<R> {
    const unique = [...new Set(keys)];
    const before = unique.map((key) => this.#tails.get(key));
    const waited = before.some((tail) => tail !== undefined) ? Promise.all(before) : Promise.resolve();
    const result = waited.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    for (const key of unique) this.#tails.set(key, tail);
    void tail.then(() => {
      for (const key of unique) if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
