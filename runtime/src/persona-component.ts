/**
 * A Persona is a component that runs as its own process when deployed (its own compose
 * service): an ApiServer, a deploy task or a Worker.
 */
import { Component } from './component.ts';
import type { ID } from './id.ts';
import type { ApiServer } from './components/api/server.ts';
import { resolveUses } from './access.ts';

export interface PersonaOptions {
  /**
   * The APIs this persona calls: what it was given (client functions, objects of them, or the
   * ApiServer). Declared use decides which API tokens and networks it gets; without it, it may
   * call every API.
   */
  uses?: readonly unknown[];
}

/**
 * How a persona lives: a `server` runs until stopped and is restarted if it dies; a `task`
 * runs once per deployment, after the servers are up; a `worker` runs until stopped.
 */
export type Lifecycle = 'server' | 'task' | 'worker';

export abstract class Persona extends Component {
  abstract readonly lifecycle: Lifecycle;
  /** The APIs it declared it calls; undefined when it declared nothing (it may call all). */
  readonly uses: readonly ApiServer[] | undefined;

  constructor(id: ID, kind: string, options: PersonaOptions = {}) {
    super(id, kind);
    this.uses = options.uses === undefined ? undefined : resolveUses(id.value, options.uses);
  }

  /**
   * Runs the persona's work. A task resolves when done; a server resolves once it accepts
   * requests; a worker resolves when its function returns. `signal` asks it to stop.
   */
  abstract start(signal: AbortSignal): Promise<void>;
}
