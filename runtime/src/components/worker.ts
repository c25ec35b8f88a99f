/**
 * Worker: a long-running persona (a queue consumer, a scheduler). Its function runs until it
 * returns or until `signal` aborts (Ctrl-C in one process, SIGTERM deployed). Deployed, a
 * worker that throws exits and is restarted; one that returns stays up, idle, until stopped.
 */
import { Persona, type PersonaOptions } from '../persona-component.ts';
import type { ID } from '../id.ts';

export type WorkerFunction = (context: { signal: AbortSignal }) => void | Promise<void>;

export class Worker extends Persona {
  readonly lifecycle = 'worker';
  readonly fn: WorkerFunction;

  constructor(id: ID, fn: WorkerFunction, options: PersonaOptions = {}) {
    super(id, 'Worker', options);
    if (typeof fn !== 'function') throw new TypeError(`${this}: Worker takes a function ({ signal }) => Promise<void>`);
    this.fn = fn;
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.fn({ signal });
  }
}
