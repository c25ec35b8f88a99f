/**
 * The app context: one component tree, its phase, and the platform it runs on.
 *
 * Nothing here is global. `rootId('my-app')` creates an App and every ID derived from that
 * root carries it, so `new Store(id)` knows which tree to join. A test creates as many apps
 * as it likes and throws them away. The only process-wide state is which app `runPersona()`
 * picks when it is not told (the latest root created), the AsyncLocalStorage that tells
 * in-process code which persona is running, and, while the runtime's OpenTelemetry context
 * manager is registered, the active trace context it keeps there (traceContexts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, type Context } from '@opentelemetry/api';
import { idOwner, makeRootId, type ID } from './id.ts';
import { errors, type Phase } from './errors.ts';
import type { Component } from './component.ts';
import type { Persona } from './persona.ts';
import type { Platform } from './platform.ts';
import { hasBrand } from './brands.ts';

export interface RunningContext {
  readonly app: App;
  /** The persona whose code is running, or undefined outside any persona (e.g. the in-process runner itself). */
  readonly persona: Persona | undefined;
  /** What the log lines written here say of where they come from (core/telemetry/scope.ts). */
  readonly logScope?: LogScope;
  /** The active OpenTelemetry context, while the runtime's context manager keeps it here (traceContexts). */
  readonly trace?: Context;
}

/**
 * What a log line says about where it was written, besides the app and persona: the component
 * serving, the endpoint and the request. Kept with the running persona (one AsyncLocalStorage:
 * entering one costs 0.7 µs on Node 24, a call's worth of work), so a handler's own lines, and
 * those of the store calls it makes, carry them without being handed anything.
 */
export interface LogScope {
  /** The component whose code runs (an ApiServer serving a call, a Store). */
  readonly component?: string;
  /** `METHOD /route` of the endpoint being served. */
  readonly endpoint?: string;
  /** The HTTP request's ID (its x-request-id, or one made for it). */
  readonly requestId?: string;
}

const running = new AsyncLocalStorage<RunningContext>();
/**
 * The context manager that keeps the active OpenTelemetry context with the running persona
 * (RunningContext's `trace`): the runtime's, once the API has it. Undefined while the API has
 * another (a test's, or an app's own), or none.
 */
let keeper: object | undefined;
/** The active OpenTelemetry context of code running as no persona, while a keeper keeps it. */
const traceOutsidePersonas = new AsyncLocalStorage<Context | undefined>();

/**
 * The platform `app`'s runtime phase runs on (in-process, or deployed). Not a property of App:
 * the platform hands out store backends and values without asking who calls, so only the
 * components' own methods, which check the access rules first, may reach it. Set by App's
 * static block.
 */
export let platformOf: (app: App) => Platform;

export class App {
  readonly root: ID;
  #phase: Phase = 'startup';
  #platform: Platform | undefined;
  readonly #components = new Map<string, Component>();

  constructor(name: string) {
    this.root = makeRootId(name, this);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Every component, in creation order (which is the same in every persona). */
  get components(): readonly Component[] {
    return [...this.#components.values()];
  }

  get personas(): readonly Persona[] {
    return this.components.filter((c): c is Persona => hasBrand(c, 'Persona'));
  }

  find(id: ID | string): Component | undefined {
    return this.#components.get(typeof id === 'string' ? id : id.value);
  }

  /** Called by the Component constructor. */
  register(component: Component): void {
    const key = component.id.value;
    if (this.#phase !== 'startup') throw errors.treeFrozen(component.kind, key, this.#phase);
    const existing = this.#components.get(key);
    if (existing) throw errors.duplicateId(component.kind, key, existing.kind);
    this.#components.set(key, component);
  }

  /**
   * Ends startup: freezes the tree, checks every component, and enters `phase` on `platform`.
   * Throws one error listing every problem the components report.
   */
  enter(phase: Exclude<Phase, 'startup'>, platform?: Platform): void {
    if (this.#phase !== 'startup') throw errors.alreadyRunning(this.root.value);
    const problems = this.components.flatMap((c) => c.validate().map((p) => `  ${c.kind} ${c.id.value}: ${p}`));
    if (problems.length) {
      throw errors.invalidTree(this.root.value, problems);
    }
    this.#phase = phase;
    this.#platform = platform;
    // The tree is final: frozen, so that running code cannot rewire it (replace a persona's
    // `start`, add to its `uses`, swap an index), which in one process would let one persona
    // act with another's rights. Private (#) state stays writable for the components themselves.
    for (const component of this.#components.values()) component.freeze();
  }

  static {
    platformOf = (app) => {
      if (!app.#platform)
        throw errors.wrongPhase(`App ${app.root.value}`, 'platform', ['runtime'], app.#phase, app.root.value);
      return app.#platform;
    };
  }
}

/**
 * Runs `fn` as `persona` of `app`, so that the access rules know who is calling, with
 * `logScope` added to the enclosing one for its log lines, and `trace` as the active
 * OpenTelemetry context if given (a server span). Internal on purpose (not a method of App, not
 * exported by the package's index): the runners and the serving side of an endpoint use it;
 * code in a persona must not be able to become another.
 */
export function runAs<T>(app: App, persona: Persona | undefined, fn: () => T, logScope?: LogScope, trace?: Context): T {
  const outer = running.getStore();
  const outerScope = outer?.logScope;
  const scope =
    logScope === undefined ? outerScope : outerScope === undefined ? logScope : { ...outerScope, ...logScope };
  // The enclosing trace context goes on (it is read only while a keeper keeps it).
  const inherited = outer === undefined ? traceOutsidePersonas.getStore() : outer.trace;
  if (trace === undefined) return running.run({ app, persona, logScope: scope, trace: inherited }, fn);
  // One switch of Node's async context for both (each copies its context frame), else the
  // manager the API has makes `trace` active.
  if (keeper !== undefined) return running.run({ app, persona, logScope: scope, trace }, fn);
  return running.run({ app, persona, logScope: scope, trace: inherited }, () => otelContext.with(trace, fn));
}

/**
 * Where the runtime's OpenTelemetry context manager (modes/telemetry-sdk.ts) keeps the active
 * context: with the running persona, so that entering a persona with a span active (an
 * endpoint's handler, as its server) is one switch of Node's async context, not two.
 */
export const traceContexts = {
  /** From now on, `manager` (the one the API has) keeps the active context here. */
  keep(manager: object): void {
    keeper = manager;
  },

  /** `manager` no longer keeps it (when it is still the one that did). */
  release(manager: object): void {
    if (keeper === manager) keeper = undefined;
  },

  active(): Context | undefined {
    const store = running.getStore();
    return store === undefined ? traceOutsidePersonas.getStore() : store.trace;
  },

  with<A extends unknown[], R>(trace: Context, fn: (...args: A) => R, ...args: A): R {
    const store = running.getStore();
    return store === undefined
      ? traceOutsidePersonas.run(trace, fn, ...args)
      : running.run({ ...store, trace }, fn, ...args);
  },

  /**
   * Makes `trace` active for the rest of this async execution; `dispose()`, once, makes the
   * context active before it active again, in the execution that disposes (perhaps another):
   * only the trace context, never the persona or the log scope of the one that entered.
   */
  enter(trace: Context): { dispose(): void } {
    const previous = traceContexts.active();
    enterTrace(trace);
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        enterTrace(previous);
      },
    };
  },
};

function enterTrace(trace: Context | undefined): void {
  const store = running.getStore();
  if (store === undefined) traceOutsidePersonas.enterWith(trace);
  else running.enterWith({ ...store, trace });
}

/** Which app and persona the current code runs in, if any. */
export function currentContext(): RunningContext | undefined {
  return running.getStore();
}

let latestApp: App | undefined;

/**
 * Creates a new app and returns its root ID. Every component created from IDs below it
 * joins that app's tree.
 */
export function rootId(name: string): ID {
  const app = new App(name);
  latestApp = app;
  return app.root;
}

/** The app an ID belongs to. */
export function appOf(id: ID): App {
  const owner = idOwner(id);
  if (!(owner instanceof App)) throw errors.noApp();
  return owner;
}

/** The app `runPersona()` runs when it is not given one. */
export function defaultApp(): App | undefined {
  return latestApp;
}
