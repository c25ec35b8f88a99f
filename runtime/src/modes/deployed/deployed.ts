/**
 * One persona, deployed: the process a container (or the local runner) starts with
 * `PERSONA=<persona ID>`. It checks that its startup built the tree the build saw, runs just
 * that persona on the DeployedPlatform (a server until SIGTERM, a task until done) and exits
 * non-zero when the persona failed.
 */
import { isTcpPort } from '../../private/tcp-port.ts';
import type { RunContext } from '../context.ts';
import type { Persona } from '../../core/persona.ts';
import { runPersonas } from '../run-personas.ts';
import { assertSameTree } from '../../core/fingerprint.ts';
import { wiring } from '../../core/wiring.ts';
import { DeployedPlatform } from './platform.ts';
import { Store } from '../../components/store/store.ts';
import { serveWorkerHealth, type WorkerHealth } from './worker-health.ts';
import { errors } from '../../core/errors.ts';

/** The worker's health endpoint when its environment names a port (containers do; local processes do not). */
async function workerHealth(
  worker: Persona,
  env: NodeJS.ProcessEnv,
): Promise<{ server: WorkerHealth; stopping: AbortController } | undefined> {
  const text = env[wiring.healthPort];
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!isTcpPort(port, { anyPort: true })) {
    throw errors.invalidPort(worker.kind, worker.id.value, wiring.healthPort, text);
  }
  const stopping = new AbortController();
  return {
    server: await serveWorkerHealth(worker, env[wiring.listenHost] || '0.0.0.0', port, stopping.signal),
    stopping,
  };
}

export async function runDeployed(context: RunContext, persona: Persona): Promise<number> {
  const { app, env, log } = context;
  assertSameTree(app, persona.id.value, env[wiring.treeFingerprint], env[wiring.treeListing]);
  const platform = new DeployedPlatform({ env, persona, log });
  app.enter('runtime', platform);
  platform.openIndexedStores(app.components.filter((c) => Store.isStore(c)));
  const health = persona.lifecycle === 'worker' ? await workerHealth(persona, env) : undefined;
  try {
    return await runPersonas(app, [persona], log, { serveUntilStopped: true, stopping: health?.stopping });
  } finally {
    await health?.server.close();
    await platform.close();
  }
}
