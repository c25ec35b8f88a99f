/**
 * Testing a few components in one process, from a test: enter the runtime phase of a small
 * app without running all of its personas, call its stores and client functions, and start
 * the personas under test one at a time. Generated component tests use it.
 *
 *   const id = rootId('test');
 *   const orders = createOrders(id`orders`);
 *   await using run = startInProcess(id);
 *   await orders.put({ id: '1', name: 'First' });
 */
import { appOf, runAs, type App } from '../../core/app.ts';
import type { ID } from '../../core/id.ts';
import type { Persona } from '../../core/persona.ts';
import { InProcessPlatform } from './in-process.ts';
import { consoleLogger, type Logger } from '../../core/logger.ts';
import { errors } from '../../core/errors.ts';

export interface InProcessRun extends AsyncDisposable {
  readonly app: App;
  /**
   * Starts `persona` as it runs in one process and resolves when it is done: a task when it
   * has run, a worker when its function returns (or after `stop()`), a server at once. A
   * failure rejects, with the same error `npm start` prints.
   */
  start(persona: Persona): Promise<void>;
  /** Runs `fn` as `persona`, so its code meets the same store and API rules as the persona's own. */
  runAs<T>(persona: Persona, fn: () => T | Promise<T>): Promise<T>;
  /** Aborts what `start()` started, waits for it, and closes the in-memory stores. */
  stop(): Promise<void>;
}

/**
 * Ends the startup of the app of `root` (its tree is checked and frozen, as `runPersona()`
 * does) and enters the runtime phase in this process, with stores in memory and fresh values
 * (no build is read). Calls made outside `runAs()` run as no persona: like a debugger, they
 * may use everything.
 */
export function startInProcess(root: ID, options: { log?: Logger } = {}): InProcessRun {
  const app = appOf(root);
  const log = options.log ?? consoleLogger;
  const platform = new InProcessPlatform({ log, codeOutsidePersonas: 'allowed' });
  app.enter('runtime', platform);
  const controller = new AbortController();
  const running = new Set<Promise<unknown>>();
  let stopped: Promise<void> | undefined;

  const start = async (persona: Persona): Promise<void> => {
    if (controller.signal.aborted) throw errors.runStopped(persona.kind, persona.id.value, app.root.value);
    const done = runAs(app, persona, () => persona.start(controller.signal));
    running.add(done);
    try {
      await done;
    } catch (err) {
      if (persona.lifecycle === 'task') throw errors.taskFailed(persona.id.value, err);
      if (persona.lifecycle === 'worker') throw errors.workerFailed(persona.id.value, err);
      throw err;
    } finally {
      running.delete(done);
    }
  };

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      controller.abort();
      await Promise.allSettled([...running]);
      await platform.close();
    })());

  return {
    app,
    start,
    runAs: async (persona, fn) => runAs(app, persona, fn),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
