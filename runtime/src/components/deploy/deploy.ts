/**
 * onDeploy: a task that runs once per deployment, after the servers it may call are up.
 * Deployed, it is a container (or process) that exits with the task's outcome.
 */
import { brand, hasBrand } from '../../core/brands.ts';
import { Persona, type PersonaOptions, type TaskOptions } from '../../core/persona.ts';
import type { ID } from '../../core/id.ts';
import { errors } from '../../core/errors.ts';
import { inSpan, SpanKind } from '../../core/telemetry/tracing.ts';
import { withLogScope } from '../../core/telemetry/scope.ts';

export type DeployFunction = (context: { signal: AbortSignal }) => void | Promise<void>;

export class DeployTask extends Persona {
  /** Whether `value` is a deploy task (of any copy of this package). */
  static isDeployTask(value: unknown): value is DeployTask {
    return hasBrand(value, 'DeployTask');
  }

  readonly lifecycle = 'task';
  /** Private, so no other persona can replace what this one runs (and with its rights). */
  readonly #fn: DeployFunction;

  constructor(id: ID, fn: DeployFunction, options: TaskOptions = {}) {
    // A task runs once per deployment: copies of it make no sense (a JavaScript caller may still pass some).
    if ((options as PersonaOptions).replicas !== undefined) throw errors.taskReplicas(id.value);
    super(id, 'DeployTask', options);
    if (typeof fn !== 'function')
      throw errors.notAFunction(this.kind, this.id.value, 'onDeploy() takes a function to run at deployment');
    this.#fn = fn;
  }

  async start(signal: AbortSignal): Promise<void> {
    const id = this.id.value;
    // The root span of the task's trace: its endpoint calls and store calls are beneath it.
    await withLogScope({ component: id }, () =>
      inSpan(`deploy ${id}`, SpanKind.INTERNAL, id, {}, async () => {
        await this.#fn({ signal });
      }),
    );
  }
}

/** Registers `fn` to run once per deployment as the persona `id`; `uses` declares the APIs it calls. */
export function onDeploy(id: ID, fn: DeployFunction, options: TaskOptions = {}): DeployTask {
  return new DeployTask(id, fn, options);
}

brand(DeployTask, 'DeployTask');
