/**
 * One persona, deployed: the process a container (or the local runner) starts with
 * `PERSONA=<persona ID>`. It checks that its startup built the tree the build saw, runs just
 * that persona on the DeployedPlatform (a server until SIGTERM, a task until done) and exits
 * non-zero when the persona failed.
 */
import type { RunContext } from '../persona.ts';
import type { Persona } from '../persona-component.ts';
import { runPersonas } from '../lifecycle.ts';
import { assertSameTree } from '../fingerprint.ts';
import { wiring } from '../wiring.ts';
import { DeployedPlatform } from './platform.ts';

export async function runDeployed(context: RunContext, persona: Persona): Promise<number> {
  const { app, env, log } = context;
  assertSameTree(app, persona.id.value, env[wiring.treeFingerprint], env[wiring.treeListing]);
  const platform = new DeployedPlatform({ env, persona, log });
  app.enter('runtime', platform);
  try {
    return await runPersonas(app, [persona], log, { serveUntilStopped: true });
  } finally {
    await platform.close();
  }
}
