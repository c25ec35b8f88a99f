/**
 * A Persona is a component that runs as its own process when deployed (its own compose
 * service): an ApiServer, a deploy task or a Worker.
 */
import { Component } from './component.ts';
import type { ID } from './id.ts';
import { resolveUses } from './access.ts';
import { errors } from './errors.ts';
import { brand, hasBrand } from './brands.ts';

export interface PersonaOptions {
  /**
   * The APIs this persona calls and the Topics it publishes to: what it was given (client
   * functions, objects of them, the ApiServer, the Topic). Declared use decides which API tokens,
   * topic credentials and networks it gets; without it, it may call every API and publish to
   * every Topic.
   */
  uses?: readonly unknown[];
  /**
   * How many copies of an ApiServer or Worker a cluster runs (Kubernetes Deployment replicas;
   * default 1). A deploy task runs once per deployment and takes none. Compose, local processes
   * and one process run one copy.
   */
  replicas?: number;
}

/** The options of a deploy task: it runs once per deployment, so it has no replicas. */
export type TaskOptions = Omit<PersonaOptions, 'replicas'>;

/**
 * How a persona lives: a `server` runs until stopped and is restarted if it dies; a `task`
 * runs once per deployment, after the servers are up; a `worker` runs until stopped.
 */
export type Lifecycle = 'server' | 'task' | 'worker';

export abstract class Persona extends Component {
  /** Whether `value` is a persona: an ApiServer, a deploy task or a Worker. */
  static isPersona(value: unknown): value is Persona {
    return hasBrand(value, 'Persona');
  }

  abstract readonly lifecycle: Lifecycle;
  /**
   * The ApiServers it declared it calls and the Topics it publishes to; undefined when it
   * declared nothing (it may call and publish to all).
   */
  readonly uses: readonly Component[] | undefined;
  /** Copies a cluster runs (see PersonaOptions.replicas). */
  readonly replicas: number;

  constructor(id: ID, kind: string, options: PersonaOptions = {}) {
    super(id, kind);
    this.uses = options.uses === undefined ? undefined : Object.freeze(resolveUses(id.value, options.uses));
    this.replicas = replicaCount(kind, id.value, options.replicas);
  }

  /**
   * Runs the persona's work. A task resolves when done; a server resolves once it accepts
   * requests; a worker resolves when its function returns. `signal` asks it to stop.
   */
  abstract start(signal: AbortSignal): Promise<void>;
}

/** At most this many: more is a typo, not a deployment (a Deployment allows any int32). */
const MAX_REPLICAS = 1000;

function replicaCount(kind: string, id: string, replicas: unknown): number {
  if (replicas === undefined) return 1;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
    throw errors.invalidReplicas(kind, id, replicas, MAX_REPLICAS);
  return replicas;
}

brand(Persona, 'Persona');
