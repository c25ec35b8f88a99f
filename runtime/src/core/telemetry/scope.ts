/**
 * What a log line says about where it was written, besides the app and persona: the component
 * serving, the endpoint and the request. Kept in AsyncLocalStorage, so a handler's own log
 * lines, and those of the store calls it makes, carry them without being handed anything.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogScope {
  /** The component whose code runs (an ApiServer serving a call, a Store). */
  readonly component?: string;
  /** `METHOD /route` of the endpoint being served. */
  readonly endpoint?: string;
  /** The HTTP request's ID (its x-request-id, or one made for it). */
  readonly requestId?: string;
}

const scopes = new AsyncLocalStorage<LogScope>();

/** Runs `fn` with `scope` for the log lines written inside it (added to the enclosing scope's fields). */
export function withLogScope<T>(scope: LogScope, fn: () => T): T {
  const outer = scopes.getStore();
  return scopes.run(outer === undefined ? scope : { ...outer, ...scope }, fn);
}

export function currentLogScope(): LogScope | undefined {
  return scopes.getStore();
}
