/**
 * What a component needs from the place it runs in. The component classes are the same in
 * every mode; a Platform decides whether a Store lives in memory or in PostgreSQL and whether
 * an endpoint call is a function call or an HTTP request.
 */
import type { ApiServer } from './components/api/server.ts';
import type { Endpoint } from './components/api/endpoint.ts';
import type { StoreBackend } from './components/store/backend.ts';
import type { Store } from './components/store/store.ts';
import type { BuildTimeValue } from './secrets/build-time-value.ts';

export interface Platform {
  readonly mode: 'in-process' | 'deployed';
  /** The backend of `store`; the platform creates it once, on first use. */
  storeBackend(store: Store<any>): StoreBackend;
  /**
   * Calls `endpoint` as a client. The argument comes as its JSON text (undefined for none):
   * one process parses it into the handler's own copy, HTTP sends it as it is.
   */
  call(endpoint: Endpoint, argText: string | undefined): Promise<unknown>;
  /** Starts serving `server`'s endpoints; resolves once it accepts calls; stops when `signal` aborts. */
  serve(server: ApiServer, signal: AbortSignal): Promise<void>;
  /** The value of a build-time value or secret in this process. */
  value<T>(value: BuildTimeValue<any>): T;
  /** Releases connections and servers. */
  close(): Promise<void>;
}
