/**
 * Starting and stopping a set of personas in one process: servers first, then workers, then
 * the deploy tasks. Used by the one-process mode (all personas) and by a deployed persona
 * process (just its own).
 */
import { runAs, type App } from '../core/app.ts';
import type { Persona } from '../core/persona.ts';
import { errors } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** What becomes of a persona as runPersonas runs it (the dev dashboard's map shows it). */
export type PersonaEvent =
  { readonly state: 'starting' | 'started' | 'finished' } | { readonly state: 'failed'; readonly error: unknown };

/**
 * Runs `personas` until the tasks have finished and the workers have returned (and, with
 * `serveUntilStopped`, until SIGINT/SIGTERM while a server runs or after a worker returned).
 * Resolves to 0, or 1 when a task or worker failed.
 */
export async function runPersonas(
  app: App,
  personas: readonly Persona[],
  log: Logger,
  options: {
    serveUntilStopped?: boolean;
    stopping?: AbortController;
    /** Told each persona's start, its end, and its failure. */
    onEvent?: (persona: Persona, event: PersonaEvent) => void;
  } = {},
): Promise<number> {
  const tell = options.onEvent ?? (() => {});
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
    /**
     * Starts `persona`, telling what becomes of it: a server has started once its start resolves,
     * a task or a worker as soon as it runs, and has finished when it resolves.
     */
    const run = (persona: Persona, failure?: (id: string, err: unknown) => Error) => {
      tell(persona, { state: 'starting' });
      const started = runAs(app, persona, () => persona.start(controller.signal));
      if (persona.lifecycle !== 'server') tell(persona, { state: 'started' });
      return started.then(
        () => tell(persona, { state: persona.lifecycle === 'server' ? 'started' : 'finished' }),
        (err: unknown) => {
          const error = failure ? failure(persona.id.value, err) : err;
          tell(persona, { state: 'failed', error });
          throw error;
        },
      );
    };
    await Promise.all(of('server').map((s) => run(s)));
    const workers = of('worker').map((w) => run(w, errors.workerFailed).catch(fail));
    const tasks = of('task').map((t) => run(t, errors.taskFailed).catch(fail));
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
