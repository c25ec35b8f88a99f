/**
 * What components need of the platform the app runs on. The component classes are the same in
 * every mode; a platform decides whether a Store lives in memory or in PostgreSQL and whether
 * an endpoint call is a function call or an HTTP request.
 */
import type { Context } from '@opentelemetry/api';
import { platformOf, type App } from '../core/app.ts';
import type { ValuePlatform } from '../values/value-platform.ts';
import type { ApiServer } from './api/server.ts';
import type { Endpoint } from './api/endpoint.ts';
import type { StoreBackend } from './store/backend.ts';
import type { Store } from './store/store.ts';
import type { Topic } from './topic/topic.ts';
import type { TopicBackend } from './topic/backend.ts';

export interface ComponentPlatform extends ValuePlatform {
  /** The backend of `store`; the platform creates it once, on first use. */
  storeBackend(store: Store<any>): StoreBackend;
  /** The backend of `topic`; the platform creates it once, on first use. */
  topicBackend(topic: Topic<any>): TopicBackend;
  /**
   * Calls `endpoint` as a client. The argument comes as its JSON text (undefined for none):
   * one process parses it into the handler's own copy, HTTP sends it as it is. `traced`: the
   * context of the call's client span, which the server's span continues (over HTTP, from the
   * request's traceparent); the active one when not given.
   */
  call(endpoint: Endpoint, argText: string | undefined, traced?: Context): Promise<unknown>;
  /** Starts serving `server`'s endpoints; resolves once it accepts calls; stops when `signal` aborts. */
  serve(server: ApiServer, signal: AbortSignal): Promise<void>;
}

/** The platform `app` runs on, as components use it (every mode's platform is one). */
export const componentPlatform = (app: App) => platformOf(app) as ComponentPlatform;
