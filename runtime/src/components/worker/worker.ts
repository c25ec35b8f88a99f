/**
 * Worker: a long-running persona (a queue consumer, a scheduler). Its function runs until it
 * returns or until `signal` aborts (Ctrl-C in one process, SIGTERM deployed). Deployed, a
 * worker that throws exits and is restarted; one that returns stays up, idle, until stopped.
 */
import { brand, hasBrand } from '../../core/brands.ts';
import { Persona, type PersonaOptions } from '../../core/persona.ts';
import type { ID } from '../../core/id.ts';
import { errors } from '../../core/errors.ts';
import { withLogScope } from '../../core/telemetry/scope.ts';

export type WorkerFunction = (context: { signal: AbortSignal }) => void | Promise<void>;

export class Worker extends Persona {
  /** Whether `value` is a Worker (of any copy of this package). */
  static isWorker(value: unknown): value is Worker {
    return hasBrand(value, 'Worker');
  }

  readonly lifecycle = 'worker';
  /** Private, so no other persona can replace what this one runs (and with its rights). */
  readonly #fn: WorkerFunction;

  constructor(id: ID, fn: WorkerFunction, options: PersonaOptions = {}) {
    super(id, 'Worker', options);
    if (typeof fn !== 'function')
      throw errors.notAFunction(this.kind, this.id.value, 'Worker takes a function ({ signal }) => Promise<void>');
    this.#fn = fn;
  }

  async start(signal: AbortSignal): Promise<void> {
    const id = this.id.value;
    // No span around the run: a worker runs as long as its persona (a queue's consumer, for
    // hours), and one span would hold every call it ever makes in one trace, exported only when
    // it ends (and lost if it is killed). Each call it makes starts a trace of its own.
    await withLogScope({ component: id }, () => this.#fn({ signal }));
  }
}

brand(Worker, 'Worker');
