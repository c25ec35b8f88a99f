/**
 * Starting and stopping a set of personas in one process: servers first, then workers, then
 * the deploy tasks. Used by the one-process mode (all personas) and by a deployed persona
 * process (just its own).
 */
import { runAs, type App } from '../core/app.ts';
import type { Persona } from '../core/persona.ts';
import { errors } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/**
 * Runs `personas` until the tasks have finished and the workers have returned (and, with
 * `serveUntilStopped`, until SIGINT/SIGTERM while a server runs or after a worker returned).
 * Resolves to 0, or 1 when a task or worker failed.
 */
export async function runPersonas(
  app: App,
  personas: readonly Persona[],
  log: Logger,
  options: { serveUntilStopped?: boolean; stopping?: AbortController } = {},
): Promise<number> {
  const controller = new AbortController();
  // Told when the personas are asked to stop (a worker's health endpoint then answers 503).
  const stopping = options.stopping;
  if (stopping) controller.signal.addEventListener('abort', () => stopping.abort(), { once: true });
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let failed = false;
  const fail = (err: Error) => {
    failed = true;
    log.error(err.message, err.cause);
    controller.abort();
  };
  try {
    const of = (lifecycle: Persona['lifecycle']) => personas.filter((p) => p.lifecycle === lifecycle);
    await Promise.all(of('server').map((s) => runAs(app, s, () => s.start(controller.signal))));
    const workers = of('worker').map((w) =>
      runAs(app, w, () => w.start(controller.signal)).catch((err: unknown) =>
        fail(errors.workerFailed(w.id.value, err)),
      ),
    );
    const tasks = of('task').map((t) =>
      runAs(app, t, () => t.start(controller.signal)).catch((err: unknown) => fail(errors.taskFailed(t.id.value, err))),
    );
    await Promise.all(tasks);
    await Promise.all(workers);
    // A deployed server runs until it is told to stop; in one process servers are only functions.
    // A deployed worker that returned stays up, idle: exiting would have its container restarted,
    // running it again and again (a failed one exits, and restarting it is the point).
    const servers = of('server');
    const idleWorkers = options.serveUntilStopped && !failed && !controller.signal.aborted ? of('worker') : [];
    for (const w of idleWorkers)
      log.info(
        `Worker ${w.id.value} has returned; it stays up, idle, until stopped (a deployed worker is not run again)`,
      );
    if (options.serveUntilStopped && (servers.length > 0 || idleWorkers.length > 0) && !controller.signal.aborted) {
      await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
    }
    return failed ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
