/**
 * The deadline of one PostgreSQL store call: a timer from the call to its answer, and the
 * stage the call was in when it passed, which says whose fault the delay was.
 */

/**
 * Where a call waits: behind this process's earlier writes of its key (`queued`), for one of
 * this store's connections or modify() slots, all in use (`busy`), on the database, or in
 * modify()'s function.
 */
export type Stage = 'queued' | 'busy' | 'database' | 'function';

/** What a call fails with when its deadline passes. Not an Error: it never leaves the backend. */
export class DeadlinePassed {
  readonly stage: Stage;
  readonly ms: number;
  constructor(stage: Stage, ms: number) {
    this.stage = stage;
    this.ms = ms;
  }
}

export class Deadline {
  /** What the call is waiting for now; set by the call as it goes. */
  stage: Stage = 'queued';
  readonly #ms: number;
  readonly #timer: NodeJS.Timeout;
  readonly #passed: Promise<never>;
  #hasPassed = false;

  constructor(ms: number) {
    this.#ms = ms;
    let fail: (reason: DeadlinePassed) => void = () => {};
    this.#passed = new Promise<never>((_, reject) => (fail = reject));
    this.#passed.catch(() => {});
    this.#timer = setTimeout(() => {
      this.#hasPassed = true;
      fail(new DeadlinePassed(this.stage, ms));
    }, ms);
  }

  get ms(): number {
    return this.#ms;
  }

  get passed(): boolean {
    return this.#hasPassed;
  }

  /**
   * Settles like `work`, or rejects with DeadlinePassed once the deadline passes. `work` goes on
   * (its owner must bound it); a failure it has after that is dropped.
   */
  race<R>(work: Promise<R>): Promise<R> {
    work.catch(() => {});
    return Promise.race([work, this.#passed]);
  }

  /** The call is over: stops the timer. */
  clear(): void {
    clearTimeout(this.#timer);
  }
}
