/**
 * The OpenTelemetry context manager the runtime's SDK registers (telemetry-sdk.ts). The active
 * context is kept with the running persona (core/app.ts, `traceContexts`), so that a server
 * entering its persona with its span active switches Node's async context once, not twice: each
 * switch copies the async context frame, and a traced call's server made two where an untraced
 * one makes one. Outside any context it gives the runtime's own empty one
 * (core/telemetry/context.ts) rather than the API's, where what a trace sets costs an object a
 * value, not a copy of a Map. The base class lends its binding of functions and event emitters,
 * which goes through `with`.
 */
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { traceContexts } from '../core/app.ts';
import { ROOT } from '../core/telemetry/context.ts';

export class RuntimeContextManager extends AsyncLocalStorageContextManager {
  override active(): Context {
    const active = traceContexts.active();
    return active === undefined || active === ROOT_CONTEXT ? ROOT : active;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return traceContexts.with(ctx, thisArg == null ? fn : fn.bind(thisArg), ...args);
  }

  override attach(ctx: Context): { dispose(): void } {
    return traceContexts.enter(ctx);
  }

  /** Keeps the active context with the persona from now on: call once the API has this manager. */
  override enable(): this {
    traceContexts.keep(this);
    return this;
  }

  override disable(): this {
    traceContexts.release(this);
    return this;
  }
}
