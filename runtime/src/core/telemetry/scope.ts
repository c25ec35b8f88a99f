/**
 * What a log line says about where it was written (LogScope, core/app.ts): kept with the running
 * persona, so a handler's own log lines, and those of the store calls it makes, carry them
 * without being handed anything. Code running as no persona (a test's, the runners') keeps its
 * scope in an AsyncLocalStorage of its own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { currentContext, runAs, type LogScope } from '../app.ts';

export type { LogScope } from '../app.ts';

const outsidePersonas = new AsyncLocalStorage<LogScope>();

/** Runs `fn` with `scope` for the log lines written inside it (added to the enclosing scope's fields). */
export function withLogScope<T>(scope: LogScope, fn: () => T): T {
  const running = currentContext();
  if (running !== undefined) return runAs(running.app, running.persona, fn, scope);
  const outer = outsidePersonas.getStore();
  return outsidePersonas.run(outer === undefined ? scope : { ...outer, ...scope }, fn);
}

export function currentLogScope(): LogScope | undefined {
  const running = currentContext();
  return running === undefined ? outsidePersonas.getStore() : running.logScope;
}
