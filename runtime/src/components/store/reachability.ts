/**
 * Whether a store's database is reachable, as its calls find out, told to the log once per
 * change: once when a call finds it lost, once when a call finds it back.
 *
 * Only a call that began after the loss was told can show the database is back: under load, a
 * call that was already answered when the database went away may settle after another call's
 * failure, and would otherwise log "reachable again" in the middle of the outage (then "cannot be
 * reached" once more at the next failure).
 */
import type { Logger } from '../../core/logger.ts';

/** What a call holds from its start: which outage, if any, it began in or before. */
export type CallStart = number;

export class Reachability {
  readonly #store: string;
  readonly #log: Logger | undefined;
  #down = false;
  /** Counts the losses told: a call compares the count at its start with the count at its end. */
  #losses = 0;

  constructor(store: string, log: Logger | undefined) {
    this.#store = store;
    this.#log = log;
  }

  /** Taken when a call begins. */
  callStarted(): CallStart {
    return this.#losses;
  }

  /** A call that began at `start` succeeded: the database is back, if it was lost before that call began. */
  succeeded(start: CallStart): void {
    if (!this.#down || start !== this.#losses) return;
    this.#down = false;
    this.#log?.info(`Store ${this.#store}: PostgreSQL is reachable again`);
  }

  /** A call found the database unreachable (`cause`: what the driver said). */
  lost(cause: unknown): void {
    if (this.#down) return;
    this.#down = true;
    this.#losses++;
    this.#log?.error(`Store ${this.#store}: PostgreSQL cannot be reached; its calls fail until it is back`, cause);
  }
}
