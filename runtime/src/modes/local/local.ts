/**
 * The local-processes mode (`npm run infra:local`): every persona of the last build as its
 * own process on this machine, with the environment compose would give it (and a few of the
 * runner's variables: what Node and a terminal need, the log and telemetry settings, nothing
 * else), but every host 127.0.0.1 and each Store in its own database on a local PostgreSQL,
 * owned by a login role of its own. The admin URL (INFRA_LOCAL_PG_URL, or the embedded
 * server's) stays in this process. No Docker needed.
 *
 * Servers start first; once each answers its health route, the workers and deploy tasks
 * start. With `--exit-with-tasks` (for tests and scripts) it stops everything once the tasks
 * are done and exits with their status; otherwise it runs until Ctrl-C (or until every
 * process has ended), then stops every process.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { RunContext } from '../context.ts';
import { ValueFile } from '../../values/value-file.ts';
import { valueFilePath } from '../../core/paths.ts';
import { errors } from '../../core/errors.ts';
import { HEALTH_ROUTE } from '../../components/api/http-wire.ts';
import { BuildPlatform } from '../build-platform.ts';
import { LOCAL_USAGE, parseLocalArgs } from '../command-line.ts';
import {
  planDeployment,
  OTEL,
  personaEnvironment,
  type Addresses,
  type ApiPlan,
  type DeploymentPlan,
  type PersonaPlan,
  type StorePlan,
} from '../../plan/plan.ts';
import { ensureLocalDatabases, redactUrl } from '../../resources/databases.ts';
import { localPostgres, type LocalPostgres } from '../../resources/local-postgres.ts';
import { startProcess, stopProcesses, type PersonaProcess } from './processes.ts';
import { conditionArgs } from '../node-conditions.ts';
import { DEV_AGENT_ENV } from '../dev-protocol.ts';
import { localDevAgent } from './dev-agent.ts';

/** How long a process may take to stop after SIGTERM before it is killed. */
const GRACE_MS = 10_000;
/** How long a server may take from its start to answering its health route. */
const HEALTHY_WITHIN_MS = 60_000;
const LOCALHOST = '127.0.0.1';

/**
 * The runner's own variables a persona's process gets besides those compose would give it: what
 * Node, a shell and a terminal need to behave as in the runner's shell; and how to log and where
 * to send telemetry (LOG_LEVEL, LOG_FORMAT and every OTEL_*), so that setting
 * OTEL_EXPORTER_OTLP_ENDPOINT once traces the whole app. Of those only OTEL_EXPORTER_OTLP_HEADERS
 * may authenticate, and only to the receiver the user chose for this run. Nothing else that
 * configures or authenticates anything (INFRA_LOCAL_PG_URL, a bound Store's production URL, a
 * token in the shell). And the connection counts an operator may tune per deployment
 * (`<STORE_ID>__POOL_MAX`, `<API_ID>__CONNECTIONS`: wiring.ts), which configure no credential.
 * Listed in the README (*Local processes*).
 */
const PASSED_TO_PERSONAS = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'TZ',
  'LANG',
  'LANGUAGE',
  'TERM',
  'NO_COLOR',
  'FORCE_COLOR',
  'NODE_OPTIONS',
  'LOG_LEVEL',
  'LOG_FORMAT',
]);
const PASSED_PREFIXES = ['LC_', 'OTEL_'];
const PASSED_SUFFIXES = ['__POOL_MAX', '__CONNECTIONS'];

const passedToPersonas = (name: string) =>
  PASSED_TO_PERSONAS.has(name) ||
  PASSED_PREFIXES.some((prefix) => name.startsWith(prefix)) ||
  PASSED_SUFFIXES.some((suffix) => name.endsWith(suffix));

/**
 * The environment of a persona's process: the allowed variables of the runner's `env` (those of
 * PASSED_TO_PERSONAS, the prefixes `LC_`, `OTEL_` and the suffixes `__POOL_MAX`, `__CONNECTIONS`),
 * then the persona's own, which win; but the
 * runner's OTEL_RESOURCE_ATTRIBUTES (say `deployment.environment.name=dev`) is kept before the
 * persona's, whose keys win where both name one (the SDK reads the pairs in order).
 *
 * `terminal`: the runner's stdout is a terminal. A persona's stdout is a pipe to the runner (which
 * prefixes its lines with its name), so it would log JSON lines; it logs readable ones instead,
 * unless LOG_FORMAT says otherwise.
 */
export function personaProcessEnvironment(
  env: NodeJS.ProcessEnv,
  own: Readonly<Record<string, string>>,
  { terminal = false }: { readonly terminal?: boolean } = {},
): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && passedToPersonas(name)) passed[name] = value;
  if (terminal && !passed.LOG_FORMAT?.trim()) passed.LOG_FORMAT = 'pretty';
  const merged = { ...passed, ...own };
  const attributes = [passed[OTEL.resourceAttributes], own[OTEL.resourceAttributes]].filter((a) => a?.trim());
  if (attributes.length > 1) merged[OTEL.resourceAttributes] = attributes.join(',');
  return merged;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `api`'s server answers its health route as itself; throws if its process ends
 * first or it takes too long.
 */
async function waitHealthy(api: ApiPlan, process: PersonaProcess, stop: AbortSignal): Promise<void> {
  const url = `http://${LOCALHOST}:${api.port}${HEALTH_ROUTE}`;
  const deadline = Date.now() + HEALTHY_WITHIN_MS;
  while (!stop.aborted) {
    if (!process.running)
      throw errors.localNotHealthy(api.server.id.value, url, `its process exited with code ${await process.exited}`);
    if (Date.now() > deadline)
      throw errors.localNotHealthy(api.server.id.value, url, `no answer within ${HEALTHY_WITHIN_MS / 1000} s`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json().catch(() => undefined)) as { id?: unknown } | undefined;
      // Another program on the same port must not pass for this server.
      if (response.ok && body?.id === api.server.id.value) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
}

/** Throws unless nothing listens on the port `persona`'s server is to take on 127.0.0.1. */
async function refuseTakenPort(persona: PersonaPlan): Promise<void> {
  const port = persona.api!.port;
  const probe = createServer();
  const free = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, LOCALHOST, () => probe.close(() => resolve(true)));
  });
  if (!free) throw errors.localPortInUse(persona.persona.id.value, port);
}

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
  );

export async function runLocal(context: RunContext): Promise<number> {
  const { app, paths, env, log } = context;
  // Read strictly: `--help` starts nothing and needs no build; a mistyped option stops here.
  const options = parseLocalArgs(context.args);
  if (options.help) {
    log.info(LOCAL_USAGE.text);
    return 0;
  }
  const valuePath = valueFilePath(paths.buildDir);
  if (!existsSync(valuePath)) throw errors.noBuild(valuePath);
  const file = ValueFile.load(valuePath);
  // Checks and freezes the tree as the build does; this process only reads values, it runs no component.
  app.enter('build', new BuildPlatform(file));
  const plan = planDeployment(app, (id) => file.get(id), valuePath);

  // Ctrl-C, a kill or a closed terminal stops the personas and then what they used (the
  // embedded PostgreSQL), from the first moment something is started.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  let postgres: LocalPostgres | undefined;
  try {
    // No PostgreSQL is started for an app without Stores.
    postgres = plan.stores.length ? await localPostgres(env, paths.buildDir, log) : undefined;
    if (stop.signal.aborted) return 130;
    return await runPersonaProcesses(context, plan, file, postgres?.adminUrl, stop, options.exitWithTasks);
  } finally {
    await postgres?.stop();
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
}

/** What stops a local run: Ctrl-C, `kill`, and the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

async function runPersonaProcesses(
  context: RunContext,
  plan: DeploymentPlan,
  file: ValueFile,
  adminUrl: string | undefined,
  stop: AbortController,
  exitWithTasks: boolean,
): Promise<number> {
  const { paths, env, log } = context;
  const storeUrls = adminUrl
    ? await ensureLocalDatabases(plan.stores, adminUrl, paths.buildDir)
    : new Map<StorePlan, string>();
  // A Store bound with --bind-store (a managed, maybe production, database) is not touched by debugging runs.
  for (const [store, url] of storeUrls) {
    const bound =
      file.keptBinding(store.store.id.value) === undefined
        ? ''
        : ' (bound to another database when deployed; local runs use their own)';
    log.info(`Store ${store.store.id.value}: ${redactUrl(url)}${bound}`);
  }
  const addresses: Addresses = {
    listenHost: LOCALHOST,
    apiUrl: (api) => `http://${LOCALHOST}:${api.port}`,
    storeUrl: (store) => storeUrls.get(store)!,
  };

  // Started by `npm run dev -- --local`: told what becomes of each persona, asked by the dashboard.
  const dev =
    env[DEV_AGENT_ENV] === '1' && process.send !== undefined ? localDevAgent(plan, storeUrls, stop) : undefined;

  const width = Math.max(0, ...plan.personas.map((p) => p.persona.id.value.length));
  const start = (persona: PersonaPlan): PersonaProcess => {
    const name = persona.persona.id.value;
    const personaEnv = Object.fromEntries(personaEnvironment(plan, persona, addresses).map((v) => [v.name, v.value]));
    dev?.starting(persona);
    const started = startProcess({
      name,
      label: name.padEnd(width),
      command: process.execPath,
      args: [...conditionArgs(process.execArgv), paths.entry],
      env: personaProcessEnvironment(env, personaEnv, { terminal: process.stdout.isTTY === true }),
      cwd: paths.appDir,
      log,
    });
    if (dev) void started.exited.then((code) => dev.exited(persona, code, started.lastErrors));
    if (dev && persona.persona.lifecycle !== 'server') dev.up(persona);
    return started;
  };

  const processes: PersonaProcess[] = [];
  try {
    const of = (lifecycle: PersonaPlan['persona']['lifecycle']) =>
      plan.personas.filter((p) => p.persona.lifecycle === lifecycle);
    // A server of another run of this app on the same port would answer the health check as
    // ours does, and our callers would talk to it: refuse before starting anything.
    for (const p of of('server')) await refuseTakenPort(p);
    const servers = of('server').map((p) => ({ plan: p, process: start(p) }));
    processes.push(...servers.map((s) => s.process));
    await Promise.race([
      Promise.all(servers.map((s) => waitHealthy(s.plan.api!, s.process, stop.signal))),
      aborted(stop.signal),
    ]);
    if (stop.signal.aborted) return 130;
    for (const server of servers) dev?.up(server.plan);
    if (servers.length)
      log.info(
        `Serving: ${servers.map((s) => `${s.plan.persona.id.value} on http://${LOCALHOST}:${s.plan.api!.port}`).join(', ')}`,
      );

    const workers = of('worker').map(start);
    const tasks = of('task').map(start);
    processes.push(...workers, ...tasks);
    const taskStatus = Promise.all(tasks.map((t) => t.exited)).then((codes) => codes.find((c) => c !== 0) ?? 0);

    if (exitWithTasks) {
      const status = await Promise.race([taskStatus, aborted(stop.signal).then(() => 130)]);
      log.info(`Deploy tasks finished with status ${status}; stopping every persona`);
      return status;
    }
    log.info('Running; press Ctrl-C to stop every persona');
    const allEnded = Promise.all(processes.map((p) => p.exited));
    await Promise.race([aborted(stop.signal), allEnded]);
    if (!stop.signal.aborted) {
      const codes = await allEnded;
      return codes.find((c) => c !== 0) ?? 0;
    }
    log.info('Stopping every persona');
    // Ctrl-C: the tasks that finished say how the deployment went.
    const finished = tasks.filter((t) => !t.running);
    return finished.length === tasks.length ? await taskStatus : 130;
  } finally {
    stop.abort(); // ends the health waits of a failed start
    dev?.stopping();
    await stopProcesses(processes, GRACE_MS);
    await dev?.close();
  }
}
