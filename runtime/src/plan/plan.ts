/**
 * The deployment plan: what each Store and each persona of the tree becomes when deployed,
 * what each persona may reach, and the environment it gets. Compose and the local-processes
 * runner read the same plan, so a persona sees the same variables in a container and as a
 * local process; only the addresses differ (`Addresses`).
 *
 * Reach follows access.ts: a Store's connection only for the personas under its owner, an
 * API's token only for the personas that may call it.
 */
import type { App } from '../core/app.ts';
import type { Persona } from '../core/persona.ts';
import { Store } from '../components/store/store.ts';
import { Topic } from '../components/topic/topic.ts';
import { ApiServer } from '../components/api/server.ts';
import { BuildTimeValue } from '../values/build-time-value.ts';
import { mayCallApi, mayReachTopic, storesUsable } from '../core/access.ts';
import { treeFingerprint, treeListing } from '../core/fingerprint.ts';
import { wiring } from '../core/wiring.ts';
import { errors } from '../core/errors.ts';
import { damagedValue } from '../values/value-file.ts';
import type { Json } from '../core/json.ts';
import { ATTR_APP_ID } from '../core/telemetry/attributes.ts';

/** The PostgreSQL role each Store's database belongs to (in its own container, or as set up locally). */
const STORE_USER = 'app';
export const STORE_PORT = 5432;
/** A worker's health endpoint in its container (modes/deployed/worker-health.ts). */
export const WORKER_HEALTH_PORT = 8081;

/**
 * The tree listing travels in an environment variable only to name the differing IDs when a
 * persona's tree drifts; past this size (large apps) the fingerprint alone is passed, since
 * one variable may hold at most 128 KiB on Linux.
 */
const MAX_LISTING_CHARS = 16 * 1024;

/**
 * A PostgreSQL database of the app's: a Store's, or a Topic's (whose messages pg-boss keeps in
 * it). Both are deployed alike: a database server of their own, a volume, a network joined by
 * the personas that may reach it, its URL in their environment.
 */
export interface StorePlan {
  readonly store: Store | Topic;
  /** Compose service (and host name) of its PostgreSQL. */
  readonly service: string;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** Named volume holding its data. */
  readonly volume: string;
  /** Internal network joined by the database and the personas that may use it. */
  readonly network: string;
  /** The variable that carries its connection URL. */
  readonly urlVar: string;
  /**
   * The existing PostgreSQL it is bound to (`--bind-store`), if any: then compose and Kubernetes
   * give it no database, volume or network of their own, and its owners get this URL.
   */
  readonly binding: string | undefined;
}

export interface ApiPlan {
  readonly server: ApiServer;
  readonly service: string;
  readonly port: number;
  /** Network joined by the server and the personas that may call it. */
  readonly network: string;
  readonly urlVar: string;
  readonly portVar: string;
  /** Its bearer token and the variable that carries it (none for a public API). */
  readonly token: EnvVar | undefined;
}

export interface PersonaPlan {
  readonly persona: Persona;
  readonly service: string;
  /** Its own API, when the persona is an ApiServer. */
  readonly api: ApiPlan | undefined;
  /** The Stores it may use, and the Topics it may publish to or subscribes to. */
  readonly stores: readonly StorePlan[];
  /**
   * The other APIs it declared it calls. Empty for a persona that calls every API (declared no
   * `uses`): those reach the plan's `apis` through what they share (callsEveryApi), so no list
   * of every API is made per persona.
   */
  readonly calls: readonly ApiPlan[];
  /**
   * It declared no `uses`, so it may call every API: compose and Kubernetes then hand it the
   * APIs' URLs, tokens and ports once for all such personas (everyApiEnvironment) and one
   * network or policy, so the files grow with personas plus APIs, not personas times APIs.
   */
  readonly callsEveryApi: boolean;
  /**
   * The build-time values it may read: its Stores' passwords, its own API's and the APIs' it
   * calls ports and tokens, and any other value it is a reader of. For a persona that calls
   * every API, the other APIs' ports and tokens are left to everyApiEnvironment.
   */
  readonly values: readonly BuildTimeValue[];
}

export interface DeploymentPlan {
  readonly app: App;
  readonly stores: readonly StorePlan[];
  readonly apis: readonly ApiPlan[];
  readonly personas: readonly PersonaPlan[];
  readonly fingerprint: string;
  readonly listing: readonly string[];
  /** Each build-time value as the variable that carries it. */
  readonly valueVars: ReadonlyMap<BuildTimeValue<any>, EnvVar>;
  /** The listing as its variable carries it, when it is small enough to pass. */
  readonly listingText: string | undefined;
  /** Whether some persona calls every API (see PersonaPlan.callsEveryApi). */
  readonly someCallEveryApi: boolean;
  readonly telemetry: TelemetryPlan;
}

/** Where things are, seen from a persona: compose service names, or 127.0.0.1 locally. */
export interface Addresses {
  /** The address an ApiServer binds to. */
  readonly listenHost: string;
  /**
   * Where a worker answers its health probes, in a container of its own (compose, Kubernetes);
   * none for local processes, which share one machine's ports.
   */
  readonly workerHealthPort?: number;
  apiUrl(api: ApiPlan): string;
  storeUrl(store: StorePlan): string;
}

export interface EnvVar {
  readonly name: string;
  readonly value: string;
  /** A secret reaches a persona only through a 0600 env file, never compose.yaml. */
  readonly secret: boolean;
}

/**
 * OpenTelemetry's own variables (read by the SDK itself, modes/telemetry-sdk.ts), so that any
 * receiver and any tool that reads a process's environment sees the same names.
 */
export const OTEL = {
  serviceName: 'OTEL_SERVICE_NAME',
  resourceAttributes: 'OTEL_RESOURCE_ATTRIBUTES',
  endpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  protocol: 'OTEL_EXPORTER_OTLP_PROTOCOL',
} as const;

/**
 * Where a deployment's personas send their telemetry: the build's `--otlp-endpoint` and
 * `--with-telemetry-ui`. Not kept across builds; the local runner plans with neither (its
 * personas take the OTEL_* variables of the runner's own environment instead).
 */
export interface TelemetryPlan {
  /** Every deployed persona's OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly otlpEndpoint?: string;
  /** Compose also runs a dashboard, which receives the telemetry unless `otlpEndpoint` names another receiver. */
  readonly ui?: boolean;
}

/** Looks up a kept value by ID (the build's value file). */
export type ValueLookup = (id: string) => Json | undefined;

/** Looks up the URL a Store is bound to by its ID (the build's value file). */
export type BindingLookup = (storeId: string) => string | undefined;

/**
 * Plans the deployment of `app` with the values of `lookup`. Every value the tree needs must
 * be there (the build resolves them first; the local runner reads the last build's file,
 * named by `source` in the error when one is missing).
 */
export function planDeployment(
  app: App,
  lookup: ValueLookup,
  source: string,
  bindings: BindingLookup = () => undefined,
  telemetry: TelemetryPlan = {},
): DeploymentPlan {
  // Each value's variable is made once: large apps hand the same value to many personas.
  const valueVars = new Map<BuildTimeValue<any>, EnvVar>();
  for (const component of app.components) {
    if (!BuildTimeValue.isBuildTimeValue(component)) continue;
    const kept = lookup(component.id.value);
    if (kept === undefined) throw errors.buildOutdated(component.kind, component.id.value, source);
    if (!component.accepts(kept)) throw damagedValue(component, kept, source);
    valueVars.set(component, {
      name: wiring.value(component.id),
      value: component.encode(kept),
      secret: component.secret,
    });
  }
  const valueOf = (value: BuildTimeValue<any>) => valueVars.get(value)!;
  const components = app.components;
  const stores: StorePlan[] = components
    .filter((c) => Store.isStore(c) || Topic.isTopic(c))
    .map((store) => {
      const service = store.id.dnsLabel;
      return {
        store,
        service,
        database: store.id.sqlName,
        user: STORE_USER,
        password: valueOf(store.password).value,
        volume: `${service}-data`,
        network: `${service}-net`,
        urlVar: Topic.isTopic(store) ? wiring.topicUrl(store.id) : wiring.storeUrl(store.id),
        binding: bindings(store.id.value),
      };
    });
  const apis: ApiPlan[] = components.filter(ApiServer.isApiServer).map((server) => ({
    server,
    service: server.id.dnsLabel,
    port: Number(valueOf(server.port).value),
    network: `${server.id.dnsLabel}-net`,
    urlVar: wiring.apiUrl(server.id),
    portVar: wiring.apiPort(server.id),
    token: server.token && { name: wiring.apiToken(server.id), value: valueOf(server.token).value, secret: true },
  }));
  // An API's port is readable by every persona, but of use only with the network reach to
  // call it; passing every port to every persona would grow each environment with the app.
  const apiValues = (a: ApiPlan): BuildTimeValue<any>[] =>
    a.server.token ? [a.server.port, a.server.token] : [a.server.port];
  const apiValueSet = new Set(apis.flatMap(apiValues));
  // Each value by what it belongs to, so a persona's are found from its Stores and APIs rather
  // than by asking every value (which grows as personas times values).
  const passwords = new Set<BuildTimeValue<any>>(stores.map((s) => s.store.password));
  const others = [...valueVars.keys()].filter((v) => !apiValueSet.has(v) && !passwords.has(v));
  const planOf = new Map(stores.map((s) => [s.store, s]));
  const usable = storesUsable(stores.flatMap((s) => (Store.isStore(s.store) ? [s.store] : [])));
  const topics = stores.filter((s) => Topic.isTopic(s.store));
  const apiPlanOf = new Map(apis.map((a) => [a.server as Persona, a]));
  const personas: PersonaPlan[] = app.personas.map((persona) => {
    const api = apiPlanOf.get(persona);
    const callsEveryApi = persona.uses === undefined;
    const calls = callsEveryApi ? [] : apis.filter((a) => a.server !== persona && mayCallApi(persona, a.server));
    const personaStores = [
      ...usable(persona).map((s) => planOf.get(s)!),
      ...topics.filter((t) => mayReachTopic(persona, t.store)),
    ];
    const candidates: BuildTimeValue<any>[] = [
      // A bound Store's generated password is kept for an unbind, but nobody connects with it.
      ...personaStores.filter((s) => s.binding === undefined).map((s) => s.store.password),
      ...(api ? apiValues(api) : []),
      ...calls.flatMap(apiValues),
      ...others,
    ];
    return {
      persona,
      service: persona.id.dnsLabel,
      api,
      stores: personaStores,
      calls,
      callsEveryApi,
      // Readers decide, as everywhere; the candidates only keep the question small.
      values: [...new Set(candidates)].filter((v) => v.readableBy(persona.id)),
    };
  });
  // The variables an operator sets per deployment (wiring.ts) are never the build's: a value
  // whose ID derives one of them would be read as that setting.
  const operatorVars = new Set([
    ...stores.map((s) => wiring.storePoolMax(s.store.id)),
    ...apis.map((a) => wiring.apiConnections(a.server.id)),
  ]);
  for (const [value, v] of valueVars) if (operatorVars.has(v.name)) throw errors.envClash(value.id.value, v.name);
  const listing = treeListing(app);
  const listingText = JSON.stringify(listing);
  return {
    app,
    stores,
    apis,
    personas,
    fingerprint: treeFingerprint(listing),
    listing,
    valueVars,
    listingText: listingText.length <= MAX_LISTING_CHARS ? listingText : undefined,
    // With no API there is nothing to share.
    someCallEveryApi: apis.length > 0 && personas.some((p) => p.callsEveryApi),
    telemetry,
  };
}

/** Collects variables by name: one name twice must mean one value (the secret flag wins). */
class Environment {
  readonly #vars = new Map<string, EnvVar>();
  readonly #service: string;
  constructor(service: string) {
    this.#service = service;
  }
  add(v: EnvVar): void {
    const existing = this.#vars.get(v.name);
    if (existing === undefined) this.#vars.set(v.name, v);
    // Different routes can name one variable (an API's port is also a value its persona reads).
    else if (existing.value !== v.value) throw errors.envClash(this.#service, v.name);
    else if (v.secret && !existing.secret) this.#vars.set(v.name, v);
  }
  addApi(api: ApiPlan, addresses: Addresses): void {
    this.add({ name: api.urlVar, value: addresses.apiUrl(api), secret: false });
    if (api.token) this.add(api.token);
  }
  get vars(): EnvVar[] {
    return [...this.#vars.values()];
  }
}

export interface EnvironmentOptions {
  /**
   * Leave out what everyApiEnvironment gives a persona that calls every API (compose and
   * Kubernetes hand that over once for all of them). Default false: the whole environment.
   */
  readonly withoutEveryApi?: boolean;
}

/**
 * The environment of one persona: which persona it is, where its API listens, where the APIs
 * it may call are (with their tokens), its Stores' connection URLs, the build-time values it
 * may read, the tree fingerprint it checks at start, and how its telemetry is named (and where
 * it goes, when the build was told). Names come from wiring.ts, and OTEL for telemetry.
 */
export function personaEnvironment(
  plan: DeploymentPlan,
  persona: PersonaPlan,
  addresses: Addresses,
  options: EnvironmentOptions = {},
): EnvVar[] {
  const env = new Environment(persona.service);
  env.add({ name: wiring.persona, value: persona.persona.id.value, secret: false });
  const own = persona.api;
  if (own) {
    env.add({ name: wiring.listenHost, value: addresses.listenHost, secret: false });
    env.add({ name: own.portVar, value: String(own.port), secret: false });
    env.addApi(own, addresses);
  }
  if (persona.persona.lifecycle === 'worker' && addresses.workerHealthPort !== undefined) {
    env.add({ name: wiring.listenHost, value: addresses.listenHost, secret: false });
    env.add({ name: wiring.healthPort, value: String(addresses.workerHealthPort), secret: false });
  }
  for (const api of persona.calls) env.addApi(api, addresses);
  if (persona.callsEveryApi && options.withoutEveryApi !== true)
    for (const v of everyApiEnvironment(plan, addresses)) env.add(v);
  for (const store of persona.stores) env.add({ name: store.urlVar, value: addresses.storeUrl(store), secret: true });
  for (const value of persona.values) env.add(plan.valueVars.get(value)!);
  env.add({ name: wiring.treeFingerprint, value: plan.fingerprint, secret: false });
  if (plan.listingText !== undefined) env.add({ name: wiring.treeListing, value: plan.listingText, secret: false });
  for (const v of telemetryEnvironment(plan, persona)) env.add(v);
  return env.vars;
}

/**
 * The persona as its telemetry's service, in the app's namespace: what the SDK would default to
 * anyway (modes/telemetry-sdk.ts), set where a collector, a dashboard or `docker inspect` sees it.
 * And the build's `--otlp-endpoint`, when given. None of it is a secret.
 */
function telemetryEnvironment(plan: DeploymentPlan, persona: PersonaPlan): EnvVar[] {
  const app = plan.app.root.value;
  const vars: EnvVar[] = [
    { name: OTEL.serviceName, value: persona.persona.id.value, secret: false },
    {
      name: OTEL.resourceAttributes,
      value: resourceAttributesText({ 'service.namespace': app, [ATTR_APP_ID]: app }),
      secret: false,
    },
  ];
  const endpoint = plan.telemetry.otlpEndpoint;
  if (endpoint !== undefined) vars.push({ name: OTEL.endpoint, value: endpoint, secret: false });
  return vars;
}

/**
 * OTEL_RESOURCE_ATTRIBUTES' text: `key=value` pairs joined by commas. The format borrows W3C
 * Baggage's: a character outside its value octets is percent-encoded (as UTF-8 bytes), and so are
 * `%` and `=`, which the decoders would take for their own. An ID may hold spaces, commas, quotes
 * or any Unicode.
 */
export function resourceAttributesText(attributes: Readonly<Record<string, string>>): string {
  return Object.entries(attributes)
    .map(([key, value]) => `${baggageEncoded(key)}=${baggageEncoded(value)}`)
    .join(',');
}

/** W3C Baggage's `baggage-octet`: printable ASCII but space, `"`, `,`, `;` and `\`. */
const BAGGAGE_OCTET = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]$/;

function baggageEncoded(text: string): string {
  return [...text]
    .map((ch) =>
      ch !== '%' && ch !== '=' && BAGGAGE_OCTET.test(ch)
        ? ch
        : [...Buffer.from(ch, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    )
    .join('');
}

/** What every persona that calls every API gets alike: each API's URL, token and port. */
export function everyApiEnvironment(plan: DeploymentPlan, addresses: Addresses): EnvVar[] {
  const env = new Environment('the APIs');
  for (const api of plan.apis) {
    env.addApi(api, addresses);
    env.add(plan.valueVars.get(api.server.port)!);
  }
  return env.vars;
}

/**
 * Inside a container network (compose's, or a cluster's): hosts are the services' names (the
 * same DNS labels in both), APIs and workers' health endpoints listen on every interface.
 */
export const containerAddresses: Addresses = {
  listenHost: '0.0.0.0',
  workerHealthPort: WORKER_HEALTH_PORT,
  apiUrl: (api) => `http://${api.service}:${api.port}`,
  storeUrl: (store) => deployedStoreUrl(store, store.service),
};

/**
 * What a deployment passes inline (compose's `environment`, a container's `env`) and what it
 * keeps private (an env file of mode 0600, a Secret): the secrets, and the bulky tree listing.
 */
export function splitEnvironment(vars: readonly EnvVar[]): { inline: EnvVar[]; secret: EnvVar[] } {
  const inline: EnvVar[] = [];
  const secret: EnvVar[] = [];
  for (const v of vars) (v.secret || v.name === wiring.treeListing ? secret : inline).push(v);
  return { inline, secret };
}

/** The URL of a Store in a deployment: the one it is bound to, else that of its own database at `host`. */
function deployedStoreUrl(store: StorePlan, host: string): string {
  return store.binding ?? storeConnectionUrl(store, host);
}

/** A Store's connection URL: `postgres://<user>:<password>@<host>:<port>/<database>`. */
function storeConnectionUrl(store: StorePlan, host: string, port = STORE_PORT): string {
  return `postgres://${encodeURIComponent(store.user)}:${encodeURIComponent(store.password)}@${host}:${port}/${encodeURIComponent(store.database)}`;
}
