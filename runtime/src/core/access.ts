/**
 * Who may use what. The one place the rules live: the in-process checks, the build (env
 * files, networks, API tokens) and the architecture diagram all ask here, so one process and
 * containers refuse the same things with the same words.
 *
 * - A Store belongs to the subtree of its parent ID; only personas there may use it.
 * - A persona that declares `uses` may call only those ApiServers; one that declares nothing
 *   may call every API (so the proof of concept's example keeps working). A server may always
 *   serve itself.
 * - Topics follow the API rule for publishing: a persona may publish to the Topics its `uses`
 *   lists, or to every Topic when it declares nothing. A Topic's credentials reach those
 *   personas and its Subscriptions (which read it), no others.
 */
import { currentContext, platformOf } from './app.ts';
import type { App } from './app.ts';
import type { Component } from './component.ts';
import type { ID } from './id.ts';
import type { Persona } from './persona.ts';
import { errors } from './errors.ts';
import { hasBrand } from './brands.ts';

/**
 * What the rules need of a Store (components/store/store.ts): the subtree that owns it. The
 * rules know Stores and ApiServers by their brands, not their classes, so core/ does not depend
 * on components/.
 */
export interface OwnedComponent extends Component {
  readonly owner: ID;
}

/** The key under which a client function keeps its endpoint, so `uses: [client]` can find the server. */
export const endpointOfClient = Symbol('infra-generator.endpoint');

/** An ApiServer is a persona of its own brand. */
const isApiServer = (value: unknown): value is Persona => hasBrand(value, 'ApiServer');
const isStore = (value: unknown): value is OwnedComponent => hasBrand(value, 'Store');
const isTopic = (value: unknown): value is Component => hasBrand(value, 'Topic');

/** What the rules need of a Subscription (components/topic/subscription.ts): the Topic it reads. */
export interface SubscribingPersona extends Persona {
  readonly topic: Component;
}
const isSubscription = (value: unknown): value is SubscribingPersona => hasBrand(value, 'Subscription');

/**
 * The ApiServers and Topics named by `values`: ApiServers themselves, client functions that
 * `defineEndpoint` returned, Topics, or objects and arrays holding them (what a persona was given).
 */
export function resolveUses(persona: string, values: readonly unknown[]): Component[] {
  const found = new Set<Component>();
  const visit = (value: unknown, path: string, depth: number): void => {
    if (isApiServer(value) || isTopic(value)) {
      found.add(value);
    } else if (typeof value === 'function' && endpointOfClient in value) {
      found.add((value as unknown as Record<symbol, { server: Persona }>)[endpointOfClient].server);
    } else if (value !== null && typeof value === 'object' && depth < 4) {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      const before = found.size;
      for (const [key, v] of entries) visit(v, `${path}.${key}`, depth + 1);
      if (found.size === before) throw errors.invalidUses(persona, path);
    } else {
      throw errors.invalidUses(persona, path);
    }
  };
  values.forEach((v, i) => visit(v, `uses[${i}]`, 0));
  return [...found];
}

export function mayUseStore(persona: Persona, store: OwnedComponent): boolean {
  return store.owner.contains(persona.id);
}

/**
 * `mayUseStore` for many personas at once: the Stores of `stores` each persona may use, found by
 * looking up the Stores owned by its own ID and its ancestors (the owners that contain it)
 * rather than asking every Store, which would grow as personas times Stores.
 */
export function storesUsable<S extends OwnedComponent>(stores: readonly S[]): (persona: Persona) => S[] {
  const owned = new Map<string, S[]>();
  for (const store of stores) owned.set(store.owner.value, [...(owned.get(store.owner.value) ?? []), store]);
  return (persona) => {
    const out: S[] = [];
    for (let id: ID | undefined = persona.id; id; id = id.parent) out.push(...(owned.get(id.value) ?? []));
    return out;
  };
}

export function mayCallApi(persona: Persona, server: Persona): boolean {
  return persona === server || persona.uses === undefined || persona.uses.includes(server);
}

/** Whether `persona` may publish to `topic`: the API rule (declared in `uses`, or nothing declared). */
export function mayPublish(persona: Persona, topic: Component): boolean {
  return persona.uses === undefined || persona.uses.includes(topic);
}

/** Whether `topic`'s credentials and network reach `persona`: it publishes to it or reads it. */
export function mayReachTopic(persona: Persona, topic: Component): boolean {
  return (isSubscription(persona) && persona.topic === topic) || mayPublish(persona, topic);
}

/**
 * Throws when the persona running this code may not publish to `topic` (`call` is `publish()`),
 * or, for a call a subscription's reader makes (`deadLetters()`), may not reach it at all.
 */
export function assertMayUseTopic(topic: Component, call: string, publishing: boolean): void {
  const persona = callingPersona(topic, call);
  if (persona && !(publishing ? mayPublish(persona, topic) : mayReachTopic(persona, topic)))
    throw errors.publishNotAllowed(
      persona.id.value,
      persona.kind,
      topic.id.value,
      call,
      (persona.uses ?? []).map((c) => c.id.value),
    );
}

/**
 * Throws when the persona running this code (in one process, or deployed) may not use `store`
 * (`call`, e.g. `get()`), or when no persona runs it and the platform refuses such code.
 */
export function assertMayUseStore(store: OwnedComponent, call: string): void {
  const persona = callingPersona(store, call);
  if (persona && !mayUseStore(persona, store))
    throw errors.storeNotAllowed(persona.id.value, store.id.value, store.owner.value);
}

/** What the rules need of a build-time value (values/build-time-value.ts). */
export interface ReadableValue extends Component {
  readonly secret: boolean;
  readableBy(persona: ID): boolean;
  /** Who may read it, for messages: `personas under my-app.customer-server`. */
  readonly readersText: string;
}

/**
 * Throws when the persona running this code may not read `value`, as its environment would not
 * hold it deployed; a secret also when no persona runs it and the platform refuses such code.
 */
export function assertMayReadValue(value: ReadableValue): void {
  const persona = value.secret ? callingPersona(value, 'get()') : currentContext()?.persona;
  if (persona && !value.readableBy(persona.id))
    throw errors.valueNotAllowed(persona.id.value, value.kind, value.id.value, value.readersText);
}

/** The persona running this code; none, when that is allowed where the app runs. */
function callingPersona(subject: Component, call: string): Persona | undefined {
  const persona = currentContext()?.persona;
  if (!persona && platformOf(subject.app).codeOutsidePersonas === 'refused')
    throw errors.outsidePersona(`${subject.kind} ${subject.id.value}`, call, subject.id.value);
  return persona;
}

/**
 * Throws unless the code calling `call` of `persona` (a Cron's runNow(), a Subscription's start())
 * runs as no persona (a test, as a debugger would) or as that persona itself: run by another, it
 * would act with rights that persona's process has and the caller's does not.
 */
export function assertRunsAsItself(persona: Persona, call: string): void {
  const running = currentContext()?.persona;
  if (running && running !== persona)
    throw errors.runsAsAnother(running.id.value, persona.kind, persona.id.value, call);
}

/** Throws when the persona running this code may not call `server`. */
export function assertMayCallApi(server: Persona, call: string): void {
  const persona = currentContext()?.persona;
  if (persona && !mayCallApi(persona, server)) {
    throw errors.apiNotAllowed(
      persona.id.value,
      persona.kind,
      server.id.value,
      call,
      (persona.uses ?? []).filter(isApiServer).map((s) => s.id.value),
    );
  }
}

export interface Edge {
  from: Persona;
  /** A Store, an ApiServer or a Topic. */
  to: Component;
  /**
   * `uses` a store (its credentials and network), `calls` an API (its token and network),
   * `publishes` to a Topic, `subscribes` to one (both with the Topic's credentials and network).
   */
  kind: 'uses' | 'calls' | 'publishes' | 'subscribes';
}

export interface EdgeOptions {
  /**
   * The calls of a persona that declared no `uses` (it may call every API and publish to every
   * Topic): `each` lists one edge per API and Topic (the default); `none` leaves them out, for
   * a caller that says "calls every API" once, since listing them grows as personas times APIs.
   */
  readonly undeclaredCalls?: 'each' | 'none';
}

/**
 * Every allowed edge of the tree: per persona, the Stores it may use, the APIs it may call, the
 * Topics it may publish to, and the Topic it subscribes to.
 */
export function edges(app: App, options: EdgeOptions = {}): Edge[] {
  return [...eachEdge(app, options)];
}

/** The edges of `edges()` one at a time, for a caller that need not hold them all. */
export function* eachEdge(app: App, options: EdgeOptions = {}): Generator<Edge> {
  const components = app.components;
  const apis = components.filter(isApiServer);
  const topics = components.filter(isTopic);
  const usable = storesUsable(components.filter(isStore));
  const every = options.undeclaredCalls !== 'none';
  for (const from of app.personas) {
    for (const to of usable(from)) yield { from, to, kind: 'uses' };
    const calls = from.uses?.filter(isApiServer) ?? (every ? apis : []);
    for (const to of calls) if (to !== from) yield { from, to, kind: 'calls' };
    const publishes = from.uses?.filter(isTopic) ?? (every ? topics : []);
    for (const to of publishes) yield { from, to, kind: 'publishes' };
    if (isSubscription(from)) yield { from, to: from.topic, kind: 'subscribes' };
  }
}
