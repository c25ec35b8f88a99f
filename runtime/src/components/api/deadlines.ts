/**
 * The deadlines of one endpoint's calls in flight, with one timer for all of them rather than a
 * timer per call (setTimeout and clearTimeout cost about 1 µs a call, a twentieth of a whole
 * HTTP call's server time). Every call of an endpoint has the same timeout, so deadlines come in
 * the order calls start: a list in start order, whose oldest call the timer waits for.
 */

/** A call in the list; `remove` it when it settles. */
export interface Deadline {
  remove(): void;
}

interface Entry extends Deadline {
  readonly at: number;
  readonly expire: () => void;
  previous: Entry | undefined;
  next: Entry | undefined;
}

export class Deadlines {
  readonly #timeoutMs: number;
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Calls `expire` once `timeoutMs` have passed, unless the deadline is removed first. */
  add(expire: () => void): Deadline {
    const entry: Entry = {
      at: performance.now() + this.#timeoutMs,
      expire,
      previous: this.#newest,
      next: undefined,
      remove: () => this.#remove(entry),
    };
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.next = entry;
    this.#newest = entry;
    this.#timer ??= setTimeout(() => this.#fire(), this.#timeoutMs);
    return entry;
  }

  #remove(entry: Entry): void {
    // Removed already (settled after expiring, or twice): not in the list.
    if (entry.previous === undefined && this.#oldest !== entry) return;
    if (entry.previous === undefined) this.#oldest = entry.next;
    else entry.previous.next = entry.next;
    if (entry.next === undefined) this.#newest = entry.previous;
    else entry.next.previous = entry.previous;
    entry.previous = entry.next = undefined;
    // An idle endpoint holds no timer (so nothing keeps the process up); a busy one keeps the
    // timer it has, which finds later deadlines when it fires.
    if (this.#oldest === undefined && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    // A timer may fire a little early (its clock is whole milliseconds): 1 ms of slack.
    while (this.#oldest !== undefined && this.#oldest.at <= now + 1) {
      const entry = this.#oldest;
      this.#remove(entry);
      entry.expire();
    }
    if (this.#oldest !== undefined)
      this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(this.#oldest.at - now)));
  }
}
