/**
 * The deployed mode's platform: one persona per process (a container, or a local process),
 * Stores on PostgreSQL, endpoint calls over HTTP. Everything it knows about the rest of the
 * system comes from its environment, under the names in wiring.ts, which the build wrote for
 * exactly this persona: a Store's URL only where the Store may be used, an API's token only
 * where the API may be called.
 */
import type { Context } from '@opentelemetry/api';
import { isTcpPort } from '../../private/tcp-port.ts';
import type { ComponentPlatform } from '../../components/platform.ts';
import type { Persona } from '../../core/persona.ts';
import type { Store } from '../../components/store/store.ts';
import type { Topic } from '../../components/topic/topic.ts';
import type { TopicBackend } from '../../components/topic/backend.ts';
import type { StoreBackend } from '../../components/store/backend.ts';
import type { Endpoint } from '../../components/api/endpoint.ts';
import type { ApiServer } from '../../components/api/server.ts';
import type { HttpServerOptions, ServingApi } from '../../components/api/http-server.ts';
import type { HttpApiClient, HttpClientOptions } from '../../components/api/http-client.ts';
import type { BuildTimeValue } from '../../values/build-time-value.ts';
import type { Logger } from '../../core/logger.ts';
import { DB_SYSTEM_POSTGRESQL, MESSAGING_SYSTEM_PG_BOSS } from '../../core/telemetry/attributes.ts';
import { currentContext } from '../../core/app.ts';
import { mayUseStore } from '../../core/access.ts';
import { wiring } from '../../core/wiring.ts';
import { errors } from '../../core/errors.ts';
import {
  API_CLIENT_CONNECTIONS,
  connectionCount,
  STORE_POOL,
  type ConnectionLimit,
} from '../../components/connection-limits.ts';

export interface DeployedPlatformOptions {
  /** The environment the build gave this persona. */
  env: NodeJS.ProcessEnv;
  /** The persona this process runs (named in errors). */
  persona: Persona;
  log: Logger;
  /** Limits and timeouts of the HTTP server and clients (defaults in their modules). */
  server?: Omit<HttpServerOptions, 'port' | 'host' | 'log' | 'token'>;
  client?: Omit<HttpClientOptions, 'token'>;
}

// The PostgreSQL store (slonik), the HTTP server (Fastify) and the HTTP client (undici) are
// each loaded on first use: a persona that uses no Store, serves no API or calls none does not
// pay for them (each costs 70-130 ms of start-up and several MiB of memory).
const loadPostgres = () => import('../../components/store/postgres.ts');
const loadHttpServer = () => import('../../components/api/http-server.ts');
const loadHttpClient = () => import('../../components/api/http-client.ts');
const loadTopic = () => import('../../components/topic/postgres.ts');

export class DeployedPlatform implements ComponentPlatform {
  readonly mode = 'deployed';
  /** Code outside every persona still runs in this persona's process, limited by its environment. */
  readonly codeOutsidePersonas = 'allowed';
  readonly #env: NodeJS.ProcessEnv;
  readonly #persona: Persona;
  readonly #log: Logger;
  readonly #options: DeployedPlatformOptions;
  readonly #backends = new Map<Store<any>, StoreBackend>();
  readonly #topics = new Map<Topic<any>, TopicBackend>();
  readonly #clients = new Map<ApiServer, Promise<HttpApiClient>>();
  readonly #ready = new Map<ApiServer, HttpApiClient>();
  readonly #servers = new Set<ServingApi>();
  readonly #values = new Map<BuildTimeValue<any>, unknown>();

  constructor(options: DeployedPlatformOptions) {
    this.#env = options.env;
    this.#persona = options.persona;
    this.#log = options.log;
    this.#options = options;
  }

  storeBackend(store: Store<any>): StoreBackend {
    let backend = this.#backends.get(store);
    if (!backend) {
      const envName = wiring.storeUrl(store.id);
      const url = this.#env[envName];
      if (!url) throw errors.storeUrlMissing(this.#personaName(), store.id.value, store.owner.value, envName);
      const poolMax = this.#connections(STORE_POOL, store, wiring.storePoolMax(store.id), store.pool.max);
      backend = loadingBackend(
        loadPostgres().then(({ createPostgresStoreBackend }) =>
          createPostgresStoreBackend(store, url, { log: this.#log, poolMax }),
        ),
      );
      this.#backends.set(store, backend);
    }
    return backend;
  }

  topicBackend(topic: Topic<any>): TopicBackend {
    let backend = this.#topics.get(topic);
    if (!backend) {
      const envName = wiring.topicUrl(topic.id);
      const url = this.#env[envName];
      if (!url) throw errors.topicUrlMissing(this.#personaName(), topic.id.value, envName);
      const poolMax = this.#connections(STORE_POOL, topic, wiring.topicPoolMax(topic.id), topic.pool.max);
      const options = { log: this.#log, poolMax, queues: topic.subscriptions.map((s) => s.queue) };
      backend = loadingTopicBackend(
        loadTopic().then(({ PostgresTopicBackend }) => new PostgresTopicBackend(topic.id.value, url, options)),
      );
      this.#topics.set(topic, backend);
    }
    return backend;
  }

  /**
   * Opens now, in the background, the stores with indexes that this persona may use: an index
   * whose indexer changed starts its build as the process starts, not at its first call. A
   * failure is left to the calls, which report it.
   */
  openIndexedStores(stores: readonly Store<any>[]): void {
    for (const store of stores) {
      if (store.indexes.length === 0 || !mayUseStore(this.#persona, store)) continue;
      if (!this.#env[wiring.storeUrl(store.id)]) continue;
      this.storeBackend(store)
        .open()
        .catch(() => {});
    }
  }

  call(endpoint: Endpoint, argText: string | undefined, traced?: Context): Promise<unknown> {
    // The client once made, without an await per call (each is a turn of the event loop's queue).
    const ready = this.#ready.get(endpoint.server);
    if (ready !== undefined) return ready.call(endpoint, argText, traced);
    try {
      return this.#client(endpoint.server).then((client) => client.call(endpoint, argText, traced));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async serve(server: ApiServer, signal: AbortSignal): Promise<void> {
    const portEnv = wiring.apiPort(server.id);
    const portText = this.#env[portEnv];
    const port = portText === undefined || portText === '' ? this.value<number>(server.port) : Number(portText);
    if (!isTcpPort(port, { anyPort: true })) {
      throw errors.invalidPort(server.kind, server.id.value, portEnv, String(portText));
    }
    const { serveHttp } = await loadHttpServer();
    const serving = await serveHttp(server, signal, {
      ...this.#options.server,
      port,
      host: this.#env[wiring.listenHost] || '0.0.0.0',
      log: this.#log,
      token: server.token && this.#token(server),
      openApiVersion: this.#env[wiring.treeFingerprint],
    });
    this.#servers.add(serving);
    this.#log.info(`${server} listening on ${serving.url}`);
  }

  value<T>(value: BuildTimeValue<any>): T {
    if (this.#values.has(value)) return this.#values.get(value) as T;
    const envName = wiring.value(value.id);
    const text = this.#env[envName];
    if (text === undefined) throw errors.missingBuildValue(value.kind, value.id.value, this.#personaName(), envName);
    const decoded = value.decode(text);
    this.#values.set(value, decoded);
    return decoded as T;
  }

  /** Closes the servers (letting in-flight calls finish), then the HTTP clients, then the store connections. */
  async close(): Promise<void> {
    const steps: (() => Promise<unknown>)[] = [
      () => Promise.allSettled([...this.#servers].map((s) => s.close())),
      async () => {
        const clients = await Promise.allSettled(this.#clients.values());
        await this.#closeAll(
          'HTTP client',
          clients.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : [])),
        );
      },
      () => this.#closeAll('Store', [...this.#backends.values()]),
      () => this.#closeAll('Topic', [...this.#topics.values()]),
    ];
    for (const step of steps) await step();
  }

  async #closeAll(what: string, items: { close(): Promise<void> }[]): Promise<void> {
    const results = await Promise.allSettled(items.map((i) => i.close()));
    for (const r of results) if (r.status === 'rejected') this.#log.error(`Closing a ${what} failed`, r.reason);
  }

  #client(server: ApiServer): Promise<HttpApiClient> {
    let client = this.#clients.get(server);
    if (!client) {
      const envName = wiring.apiUrl(server.id);
      const url = this.#env[envName];
      if (!url) throw errors.apiUrlMissing(this.#personaName(), server.id.value, envName);
      const options = {
        connections: this.#connections(
          API_CLIENT_CONNECTIONS,
          server,
          wiring.apiConnections(server.id),
          server.clientConnections,
        ),
        ...this.#options.client,
        token: server.token && this.#token(server),
      };
      const made = loadHttpClient().then(({ HttpApiClient }) => {
        const made = new HttpApiClient(server, url, options);
        this.#ready.set(server, made);
        return made;
      });
      // A client that could not be made (a malformed URL) is not kept: the next call says why again.
      made.catch(() => this.#clients.delete(server));
      this.#clients.set(server, (client = made));
    }
    return client;
  }

  /**
   * A connection count a deployment set in the variable `envName`, or the component's own in
   * code (Store's pool.max, ApiServer's clientConnections) when it is unset or empty.
   */
  #connections(
    limit: ConnectionLimit,
    component: Store<any> | Topic<any> | ApiServer,
    envName: string,
    inCode: number,
  ): number {
    const text = this.#env[envName]?.trim();
    if (!text) return inCode;
    // Digits only: Number() would also take "0x10", "1e3" or "12.0".
    const count = /^[0-9]+$/.test(text) ? Number(text) : text;
    return connectionCount(limit, count, { kind: component.kind, id: component.id.value }, envName, text);
  }

  /** The API's bearer token, which the build gives the server and the personas that may call it. */
  #token(server: ApiServer): string {
    const envName = wiring.apiToken(server.id);
    const token = this.#env[envName];
    if (!token)
      throw errors.missingBuildValue(
        'Secret',
        server.token?.id.value ?? `${server.id.value}.token`,
        this.#personaName(),
        envName,
      );
    return token;
  }

  #personaName(): string {
    return (currentContext()?.persona ?? this.#persona).id.value;
  }
}

/**
 * The backend of a store while its module loads: each call waits for it, in the order made; once
 * loaded, calls go straight to it (no extra turn of the event loop per call). It is always the
 * PostgreSQL backend, whose system it names at once.
 */
function loadingBackend(loading: Promise<StoreBackend>): StoreBackend {
  let loaded: StoreBackend | undefined;
  loading.then(
    (backend) => (loaded = backend),
    () => {},
  );
  const to =
    <A extends unknown[], R>(call: (backend: StoreBackend, ...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      loaded ? call(loaded, ...args) : loading.then((backend) => call(backend, ...args));
  return {
    dbSystemName: DB_SYSTEM_POSTGRESQL,
    get: to((b, key) => b.get(key)),
    set: to((b, key, value) => b.set(key, value)),
    setMany: to((b, entries) => b.setMany(entries)),
    modify: to((b, key, fn) => b.modify(key, fn)),
    keys: to((b, after, limit, prefix) => b.keys(after, limit, prefix)),
    entries: to((b, after, limit, prefix) => b.entries(after, limit, prefix)),
    getMany: to((b, keys) => b.getMany(keys)),
    indexGet: to((b, index, indexKey, retrieveValues) => b.indexGet(index, indexKey, retrieveValues)),
    indexEntries: to((b, index, after, limit) => b.indexEntries(index, after, limit)),
    open: to((b) => b.open()),
    close: to((b) => b.close()),
  };
}

/** A topic's backend while its module (and pg-boss) loads: each call waits for it. */
function loadingTopicBackend(loading: Promise<TopicBackend>): TopicBackend {
  loading.catch(() => {});
  return {
    messagingSystem: MESSAGING_SYSTEM_PG_BOSS,
    publish: (envelope) => loading.then((b) => b.publish(envelope)),
    consume: (queue, handle, signal) => loading.then((b) => b.consume(queue, handle, signal)),
    deadLetters: (queue, limit) => loading.then((b) => b.deadLetters(queue, limit)),
    requeue: (queue, ids) => loading.then((b) => b.requeue(queue, ids)),
    close: () => loading.then((b) => b.close()),
  };
}
