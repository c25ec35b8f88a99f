/**
 * A Persona is a component that runs as its own process when deployed (its own compose
 * service): an ApiServer, a deploy task or a Worker.
 */
import { Component } from './component.ts';
import type { ID } from './id.ts';

/**
 * How a persona lives: a `server` runs until stopped and is restarted if it dies; a `task`
 * runs once per deployment, after the servers are up; a `worker` runs until stopped.
 */
export type Lifecycle = 'server' | 'task' | 'worker';

export abstract class Persona extends Component {
  abstract readonly lifecycle: Lifecycle;

  constructor(id: ID, kind: string) {
    super(id, kind);
  }

  /**
   * Runs the persona's work. A task resolves when done; a server resolves once it accepts
   * requests; a worker resolves when its function returns. `signal` asks it to stop.
   */
  abstract start(signal: AbortSignal): Promise<void>;
}
