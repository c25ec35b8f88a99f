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
    // One timer, kept while calls come and go: under load the list empties between bursts, and
    // clearing and setting a timer each time cost more than the calls' deadlines. While a call
    // waits it keeps the process up (a hung handler still gets its 504); an idle endpoint's
    // timer does not, and lapses when it next fires.
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#fire(), this.#timeoutMs);
    else this.#timer.ref();
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
    // Idle: the timer stays (see add) but no longer keeps the process up.
    if (this.#oldest === undefined) this.#timer?.unref();
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
