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
  invalidMethod: (server: string, method: string) =>
    make('INFRA_INVALID_METHOD', `ApiServer ${server}: method ${JSON.stringify(method)} must be one of GET, POST, PUT, PATCH, DELETE`),
  notJson: (subject: string, what: string, reason: string) =>
    make('INFRA_NOT_JSON', `${subject}: ${what} is not JSON-serialisable (${reason})`),
  invalidKey: (store: string, key: unknown) =>
    make('INFRA_INVALID_KEY', `Store ${store}: a key must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`),
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
};
