/**
 * The environment variables that carry the wiring from the build to each persona. The build
 * (compose, local processes, Kubernetes) writes them; the deployed platform reads them. Each is
 * named from the component's ID, so a persona finds its dependencies with no configuration.
 */
import type { ID } from './id.ts';

export const wiring = {
  /** Which persona a process is (`my-app.customer-server.api`), or `build` / `local`. */
  persona: 'PERSONA',
  /** A Store's PostgreSQL connection URL, with its password: given only to personas allowed to use it. */
  storeUrl: (store: ID) => `${store.envName}__URL`,
  /** A Topic's PostgreSQL connection URL: given only to its subscriptions and the personas that may publish to it. */
  topicUrl: (topic: ID) => `${topic.envName}__URL`,
  /** An ApiServer's base URL (`http://host:port`), for the personas that call it. */
  apiUrl: (server: ID) => `${server.envName}__URL`,
  /** The TCP port an ApiServer listens on, for the server itself. */
  apiPort: (server: ID) => `${server.envName}__PORT`,
  /** A build-time value or secret (its encoded text). */
  value: (value: ID) => value.envName,
  /** The bearer token of an ApiServer, for the server and the personas allowed to call it. */
  apiToken: (server: ID) => `${server.envName}__TOKEN`,
  /**
   * The most connections a Store's pool opens in one process, overriding `pool.max` of its code
   * (not written by the build: an operator sets it per deployment).
   */
  storePoolMax: (store: ID) => `${store.envName}__POOL_MAX`,
  /** The same for a Topic's pool. */
  topicPoolMax: (topic: ID) => `${topic.envName}__POOL_MAX`,
  /**
   * The most connections a calling persona keeps open to an ApiServer, overriding
   * `clientConnections` of its code (not written by the build, as storePoolMax).
   */
  apiConnections: (server: ID) => `${server.envName}__CONNECTIONS`,
  /** The build's tree fingerprint, and its listing (JSON array of lines), checked by every persona at start. */
  treeFingerprint: 'INFRA_TREE_FINGERPRINT',
  treeListing: 'INFRA_TREE',
  /**
   * The address an ApiServer (or a worker's health endpoint) binds to (default 0.0.0.0 in
   * containers, 127.0.0.1 locally).
   */
  listenHost: 'INFRA_LISTEN_HOST',
  /** Where a deployed worker answers `GET /healthz` for its container's probes; unset, it serves none. */
  healthPort: 'INFRA_HEALTH_PORT',
} as const;
