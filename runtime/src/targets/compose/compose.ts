/**
 * compose.yaml: the deployment plan as a Compose file, built as data and rendered by `yaml`.
 *
 * - One service per persona, all from one app image, told apart by PERSONA. Every persona
 *   service names the same `image` and `build`: docker-compose v1.29 `up` builds it for the
 *   first service that needs it and finds it present for the rest (compose/service.py
 *   `ensure_image_exists`); `build:` on one service only would make `up` try to pull the
 *   image for any service it reaches first, and there may be no registry.
 * - One PostgreSQL service and named volume per Store, on an internal network that only the
 *   personas allowed to use the Store join; no published port. Health checks: healthchecks.ts.
 * - Secrets go to per-service env files (0600), never into this file.
 * - With `--with-telemetry-ui`, a dashboard of the personas' telemetry (telemetryUiService), on
 *   a network of its own that every persona joins and no database does; its UI published on
 *   the host's loopback only.
 * - Only fields docker-compose v1.29 accepts (no top-level `name`, no `depends_on.required`);
 *   rendered as YAML 1.1 so that PyYAML reads `"no"` as a string, and with `$` doubled because
 *   Compose interpolates every value.
 * - Its first line holds a checksum of the rest, so the next build notices a hand edit and keeps
 *   a copy before replacing it (hand-edits.ts); local changes go in compose.override.yaml.
 */
import { join } from 'node:path';
import YAML from 'yaml';
import type { Persona } from '../../core/persona.ts';
import { httpHealthcheck, postgresHealthcheck, type Healthcheck } from './healthchecks.ts';
import {
  containerAddresses,
  everyApiEnvironment,
  OTEL,
  personaEnvironment,
  splitEnvironment,
  WORKER_HEALTH_PORT,
  type ApiPlan,
  type DeploymentPlan,
  type PersonaPlan,
  type StorePlan,
} from '../../plan/plan.ts';
import { envFilePath, envFileText, envFolder } from './env-files.ts';
import { composePath } from '../../private/project-path.ts';
import { errors } from '../../core/errors.ts';
import { OVERRIDE_FILE, withChecksum } from '../hand-edits.ts';
import {
  appImage,
  COMPOSE_FILE,
  dockerfilePath,
  EVERY_API,
  POSTGRES_DATA,
  POSTGRES_IMAGE,
  postgresEnvironment,
  oneLine,
  TELEMETRY_UI_PORT,
  TELEMETRY_UI_URL,
} from '../shared.ts';
import type { OutputFile, Target, TargetContext } from '../target.ts';

/** Compose's implicit network: joined by personas that would otherwise have no way out. */
const DEFAULT_NETWORK = 'default';

/**
 * `--with-telemetry-ui`: the .NET Aspire dashboard, standalone. It takes traces, metrics and logs
 * over OTLP and shows all three, where Jaeger's all-in-one would show the traces only. Pinned to
 * a minor version: its settings get renamed between versions (DOTNET_DASHBOARD_* became
 * ASPIRE_DASHBOARD_*, the old names still read as a fallback in 9.x).
 */
const TELEMETRY_UI = 'telemetry-ui';
const TELEMETRY_UI_IMAGE = 'mcr.microsoft.com/dotnet/aspire-dashboard:9.5';
/** Its OTLP/HTTP receiver (OTLP/gRPC is on 18889; the SDK's default protocol is HTTP). */
const TELEMETRY_UI_OTLP_PORT = 18890;
/** The dashboard's network: every persona joins it, no database does (Stores stay on their owners' networks). */
const TELEMETRY_NETWORK = 'telemetry';

export interface ComposeService {
  image: string;
  build?: { context: string; dockerfile: string };
  init?: boolean;
  restart: 'no' | 'unless-stopped';
  environment: Record<string, string>;
  /** Every service of the app's has its env file; the telemetry dashboard has none. */
  env_file?: string[];
  depends_on?: Record<string, { condition: 'service_healthy' }>;
  healthcheck?: Healthcheck;
  volumes?: string[];
  ports?: string[];
  networks?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean }>;
  volumes?: Record<string, Record<string, never>>;
}

export interface ComposeInput {
  plan: DeploymentPlan;
  projectRoot: string;
  buildDir: string;
}

export interface ComposeOutput {
  file: ComposeFile;
  text: string;
  /** The env files it names (mode 0600). */
  envFiles: OutputFile[];
}

const restartPolicy: Record<Persona['lifecycle'], ComposeService['restart']> = {
  server: 'unless-stopped',
  worker: 'unless-stopped',
  // A deploy task runs once; restarting it would repeat the deployment's side effects.
  task: 'no',
};

/**
 * `declaredApis`: the networks of the APIs that declared their `uses` (kept off the shared
 * network), which the personas that call every API join one by one.
 */
function personaService(
  plan: DeploymentPlan,
  persona: PersonaPlan,
  input: ComposeInput,
  inline: Record<string, string>,
  envFiles: string[],
  declaredApis: readonly ApiPlan[],
): ComposeService {
  const dependsOn: Record<string, { condition: 'service_healthy' }> = {};
  // A bound Store is outside compose: nothing to wait for, and reached over a network with a way out.
  const ownStores = persona.stores.filter((s) => s.binding === undefined);
  for (const store of ownStores) dependsOn[store.service] = { condition: 'service_healthy' };
  // Servers do not wait for the APIs they call: two servers calling each other would be a cycle.
  if (persona.persona.lifecycle !== 'server') {
    for (const api of persona.callsEveryApi ? plan.apis : persona.calls)
      dependsOn[api.service] = { condition: 'service_healthy' };
  }
  const networks = persona.api ? [persona.api.network] : [];
  if (persona.callsEveryApi && plan.someCallEveryApi)
    networks.push(EVERY_API, ...declaredApis.filter((a) => a !== persona.api).map((a) => a.network));
  else networks.push(...persona.calls.map((a) => a.network));
  if (networks.length === 0) networks.push(DEFAULT_NETWORK);
  networks.push(...ownStores.map((s) => s.network));
  // A network of its own with the dashboard: a shared one would let every persona reach every API.
  if (plan.telemetry.ui) networks.push(telemetryNetworkOf(persona.service));
  const service: ComposeService = {
    image: appImage(plan),
    build: { context: '.', dockerfile: composePath(input.projectRoot, dockerfilePath(input.buildDir)) },
    init: true,
    restart: restartPolicy[persona.persona.lifecycle],
    environment: inline,
    env_file: envFiles,
  };
  if (Object.keys(dependsOn).length) service.depends_on = dependsOn;
  if (persona.persona.lifecycle === 'worker') service.healthcheck = httpHealthcheck(WORKER_HEALTH_PORT);
  if (persona.api) {
    service.healthcheck = httpHealthcheck(persona.api.port);
    if (persona.api.server.public) service.ports = [`${persona.api.port}:${persona.api.port}`];
  }
  service.networks = networks;
  return service;
}

function storeService(store: StorePlan, envFile: string): ComposeService {
  return {
    image: POSTGRES_IMAGE,
    restart: 'unless-stopped',
    environment: postgresEnvironment(store).inline,
    env_file: [envFile],
    volumes: [`${store.volume}:${POSTGRES_DATA}`],
    healthcheck: postgresHealthcheck(store),
    networks: [store.network],
  };
}

/**
 * The telemetry dashboard. Its OTLP receivers take telemetry without a key: only the app's
 * personas share its network. Its UI keeps asking for the token of the login link it prints in
 * its log, and is published on the host's loopback only, as it shows what the personas log.
 * Names as in the dashboard's KnownConfigNames and DashboardConfigNames (dotnet/aspire) and its
 * image's Dockerfile (dotnet/dotnet-docker, which sets the same OTLP/HTTP port under the older
 * DOTNET_ name).
 */
function telemetryUiService(plan: DeploymentPlan): ComposeService {
  return {
    image: TELEMETRY_UI_IMAGE,
    restart: 'unless-stopped',
    environment: {
      ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL: `http://0.0.0.0:${TELEMETRY_UI_OTLP_PORT}`,
      DASHBOARD__OTLP__AUTHMODE: 'Unsecured',
      DASHBOARD__FRONTEND__AUTHMODE: 'BrowserToken',
    },
    ports: [`127.0.0.1:${TELEMETRY_UI_PORT}:${TELEMETRY_UI_PORT}`],
    // Its own network, to publish the UI through; and each persona's, to take its telemetry.
    networks: [TELEMETRY_NETWORK, ...plan.personas.map((p) => telemetryNetworkOf(p.service))],
  };
}

/** The internal network a persona and the dashboard share, and nobody else. */
function telemetryNetworkOf(service: string): string {
  return `${TELEMETRY_NETWORK}--${service}`;
}

/** What a persona is told to send its telemetry to the dashboard: OTLP over HTTP, on the telemetry network. */
function telemetryUiExporter(): Record<string, string> {
  return {
    [OTEL.endpoint]: `http://${TELEMETRY_UI}:${TELEMETRY_UI_OTLP_PORT}`,
    [OTEL.protocol]: 'http/protobuf',
  };
}

/** The dashboard's service name is the build's; a component whose service would take it is refused. */
function refuseTelemetryUiClash(plan: DeploymentPlan): void {
  const clash = [
    ...plan.personas.map((p) => ({ service: p.service, component: p.persona })),
    ...plan.stores.map((s) => ({ service: s.service, component: s.store })),
  ].find((c) => c.service === TELEMETRY_UI);
  if (clash)
    throw errors.outputClash(
      `the service ${TELEMETRY_UI} of ${COMPOSE_FILE}`,
      `${clash.component.kind} ${clash.component.id.value}`,
    );
}

/** Compose interpolates `$VAR` in every value; `$$` is a literal `$` (a replacer for `yaml`). */
function escapeInterpolation(_key: unknown, value: unknown): unknown {
  return typeof value === 'string' && value.includes('$') ? value.replaceAll('$', '$$$$') : value;
}

/** The compose file and the env files it refers to. */
function composeFile(input: ComposeInput): ComposeOutput {
  const { plan, projectRoot, buildDir } = input;
  const services: Record<string, ComposeService> = {};
  const envFiles: OutputFile[] = [];
  const networks: Record<string, { internal?: boolean }> = {};
  const volumes: Record<string, Record<string, never>> = {};

  for (const store of plan.stores) {
    if (store.binding !== undefined) continue;
    const path = envFilePath(buildDir, store.service);
    const secret = Object.entries(postgresEnvironment(store).secret).map(([name, value]) => ({ name, value }));
    envFiles.push({ path, text: envFileText(store.service, secret), mode: 0o600 });
    services[store.service] = storeService(store, composePath(projectRoot, path));
    volumes[store.volume] = {};
    // Internal: the database is reachable from its owners only, and reaches nothing outside.
    networks[store.network] = { internal: true };
  }
  for (const api of plan.apis) networks[api.network] = {};
  const everyApiFile = envFilePath(buildDir, EVERY_API);
  const declaredApis = plan.apis.filter((a) => a.server.uses !== undefined);
  if (plan.someCallEveryApi) {
    networks[EVERY_API] = {};
    const everyApiText = envFileText(EVERY_API, everyApiEnvironment(plan, containerAddresses));
    envFiles.push({ path: everyApiFile, text: everyApiText, mode: 0o600 });
  }
  // With --otlp-endpoint too, the personas send there (plan.ts); the dashboard shows what reaches it.
  const exporter = plan.telemetry.ui && plan.telemetry.otlpEndpoint === undefined ? telemetryUiExporter() : {};
  for (const persona of plan.personas) {
    const path = envFilePath(buildDir, persona.service);
    const { inline, secret } = splitEnvironment(
      personaEnvironment(plan, persona, containerAddresses, { withoutEveryApi: true }),
    );
    envFiles.push({ path, text: envFileText(persona.service, secret), mode: 0o600 });
    // The persona's own file last: where both name a variable (its own API's), they agree.
    const files = [...(persona.callsEveryApi && plan.someCallEveryApi ? [everyApiFile] : []), path].map((f) =>
      composePath(projectRoot, f),
    );
    services[persona.service] = personaService(
      plan,
      persona,
      input,
      { ...Object.fromEntries(inline.map((v) => [v.name, v.value])), ...exporter },
      files,
      declaredApis,
    );
  }
  if (plan.telemetry.ui) {
    refuseTelemetryUiClash(plan);
    services[TELEMETRY_UI] = telemetryUiService(plan);
    // Not internal: the UI's port is published to the host through it. No persona joins it.
    networks[TELEMETRY_NETWORK] = {};
    for (const persona of plan.personas) networks[telemetryNetworkOf(persona.service)] = { internal: true };
  }

  const file: ComposeFile = { services };
  if (Object.keys(networks).length) file.networks = networks;
  if (Object.keys(volumes).length) file.volumes = volumes;
  const document = new YAML.Document(file, escapeInterpolation, { version: '1.1', aliasDuplicateObjects: false });
  document.commentBefore =
    ` Do not edit: the next build replaces this file (keeping a changed copy in ${composePath(projectRoot, buildDir)}/).\n` +
    ` Put local changes in ${OVERRIDE_FILE}, which \`docker compose up\` in this folder merges over this file by itself.\n` +
    ` Run it with \`docker compose up --build\` (the image must hold the code this was built from); secrets are in the env files it names (mode 0600).`;
  // The first line records a checksum of the rest, so the next build notices a hand edit (hand-edits.ts).
  const text = withChecksum(
    document.toString({ lineWidth: 0 }),
    (sum) =>
      `Generated by \`npm run infra:build\` from the component tree of ${oneLine(plan.app.root.value)} (${sum} of the lines below).`,
  );
  return { file, text, envFiles };
}

/**
 * The compose target: compose.yaml at the project root (written after the env files and the
 * Dockerfile it names, its hand edits kept) and the env files in `<build>/env/`, the target's own
 * folder.
 */
export const target: Target = {
  name: 'compose',
  files(plan, context) {
    const { paths } = context;
    warnAboutTelemetry(plan, context);
    const compose = composeFile({ plan, projectRoot: paths.projectRoot, buildDir: paths.buildDir });
    const composeYaml = { path: join(paths.projectRoot, COMPOSE_FILE), text: compose.text, mode: 0o644 };
    return [...compose.envFiles, { ...composeYaml, namesOthers: true, keepsHandEdits: true }];
  },
  ownFolder: (paths) => ({ path: envFolder(paths.buildDir), suffix: '.env' }),
  nextSteps: (plan) =>
    [
      'Next: docker compose up --build   (or npm run infra:local: every persona as a local process, no Docker)',
      ...(plan.telemetry.ui
        ? [
            `  Telemetry UI (traces, metrics): ${TELEMETRY_UI_URL}, on this machine only. ` +
              `Log in with the link it prints, which holds its token: docker compose logs ${TELEMETRY_UI}`,
          ]
        : []),
    ].join('\n'),
};

/** The telemetry options' surprises, which still build: the build's warnings say them at its end. */
function warnAboutTelemetry(plan: DeploymentPlan, { warn }: TargetContext): void {
  const endpoint = plan.telemetry.otlpEndpoint;
  if (endpoint === undefined) return;
  if (isLoopback(new URL(endpoint).hostname))
    warn(
      `--otlp-endpoint ${endpoint} names the loopback, which in a container (compose, Kubernetes) is the persona's own: ` +
        "give the receiver's address as the containers see it (its service name, or host.docker.internal for one on this machine)",
    );
  if (plan.telemetry.ui)
    warn(
      `with --otlp-endpoint, the personas send their telemetry to ${endpoint}, not to the dashboard of --with-telemetry-ui, ` +
        `which shows only what is sent on to http://${TELEMETRY_UI}:${TELEMETRY_UI_OTLP_PORT}`,
    );
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}
