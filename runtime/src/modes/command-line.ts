/**
 * The command lines of `npm run infra:build`, `npm run infra:prune` and `npm run infra:local`,
 * read with Node's parseArgs in strict mode, so a mistyped option stops the command (naming it
 * and the usage) instead of being quietly ignored; `--help` (`-h`) prints the usage and does
 * nothing else. `--target` takes the deployments of the build's targets (targets/target.ts).
 */
import { parseArgs } from 'node:util';
import { errors, messageOf } from '../core/errors.ts';
import { DEFAULT_TARGET, TARGET_CHOICES } from '../targets/registry.ts';
import { TELEMETRY_UI_TARGET, TELEMETRY_UI_URL } from '../targets/shared.ts';

export interface BuildArgs {
  /** `--target`: one of TARGET_CHOICES (targets/target.ts), by default `compose`. */
  readonly target: string;
  /** `--bind-store STORE_ID=URL|env:NAME`, each as given. */
  readonly bindStore: readonly string[];
  /** `--unbind-store STORE_ID`, each as given. */
  readonly unbindStore: readonly string[];
  /** `--reset-value ID`, each as given: values to make anew, replacing what the value file holds. */
  readonly resetValue: readonly string[];
  /** `--otlp-endpoint URL`: where every deployed persona sends its telemetry (an http or https URL, checked). */
  readonly otlpEndpoint: string | undefined;
  /** `--with-telemetry-ui`: compose also runs a dashboard of the telemetry (refused with another target). */
  readonly withTelemetryUi: boolean;
  /** `--prune` (what `npm run infra:prune` passes) and its `--yes`. */
  readonly prune: boolean;
  readonly yes: boolean;
  /** `--help`: print `usage.text` and do nothing else. */
  readonly help: boolean;
  /** The usage of the command given: the build's, or the prune's with `--prune`. */
  readonly usage: Usage;
}

/** A command's usage: its one-line synopsis, and the whole text `--help` prints. */
export interface Usage {
  /** How it is run, e.g. `npm run infra:build`. */
  readonly command: string;
  /** `Usage: ` and this is the first line of `text`. */
  readonly synopsis: string;
  readonly text: string;
}

function usage(
  command: string,
  options: string,
  about: string,
  table: readonly [string, string][],
  examples: readonly string[],
  seeAlso?: string,
): Usage {
  const synopsis = `${command} -- ${options}`;
  const width = Math.max(...table.map(([flag]) => flag.length));
  const text = [
    `Usage: ${synopsis}`,
    '',
    about,
    '',
    'Options:',
    ...table.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`),
    '',
    'Examples:',
    ...examples.map((e) => `  ${e}`),
    ...(seeAlso ? ['', seeAlso] : []),
  ].join('\n');
  return { command, synopsis, text };
}

const targetOption = `--target ${TARGET_CHOICES.join('|')}`;

const BUILD_USAGE = usage(
  'npm run infra:build',
  `[${targetOption}] [--bind-store STORE_ID=URL|env:VARIABLE]… [--unbind-store STORE_ID]… [--reset-value ID]… [--otlp-endpoint URL] [--with-telemetry-ui]`,
  "Runs the app's startup as the build persona and writes compose.yaml, starter/build/Dockerfile, the\n" +
    'env files and the kept values (starter/build/values.json); with --target kubernetes also\n' +
    'starter/build/kubernetes/. Writes nothing if the component tree is invalid.',
  [
    [targetOption, `what to write the deployment for (default: ${DEFAULT_TARGET})`],
    ['--bind-store STORE_ID=URL', 'deploy the Store on an existing PostgreSQL, not its own (kept for later builds)'],
    ['--bind-store STORE_ID=env:VARIABLE', 'the same, the URL read from VARIABLE at every build'],
    ['--unbind-store STORE_ID', 'give a bound Store its own database again'],
    [
      '--reset-value ID',
      "make a new value for ID (a damaged one, say), replacing the kept one; for a Store's password, change it in its database too",
    ],
    [
      '--otlp-endpoint URL',
      "send every persona's traces and metrics to this OpenTelemetry (OTLP) receiver, e.g. http://otel-collector:4318",
    ],
    [
      '--with-telemetry-ui',
      `compose only: also run a dashboard of the traces and metrics, at ${TELEMETRY_UI_URL} on this machine`,
    ],
    ['-h, --help', 'print this help and build nothing'],
  ],
  [
    'npm run infra:build',
    'npm run infra:build -- --with-telemetry-ui',
    'npm run infra:build -- --target kubernetes',
    'npm run infra:build -- --target kubernetes --otlp-endpoint http://otel-collector.observability:4318',
    'npm run infra:build -- --bind-store my-app.customer-server.db=env:CUSTOMERS_DB_URL',
    'npm run infra:build -- --reset-value my-app.customer-server.api.token',
  ],
  'Volumes and databases of Stores gone from the code: npm run infra:prune -- --help',
);

const PRUNE_USAGE = usage(
  'npm run infra:prune',
  '[--yes]',
  'Removes the docker volumes and local databases of Stores that are no longer in the code (the\n' +
    'build warns about them), after asking, since their data is lost.',
  [
    ['--yes', 'remove them without asking (for scripts; without a terminal it is required)'],
    ['-h, --help', 'print this help and remove nothing'],
  ],
  ['npm run infra:prune', 'npm run infra:prune -- --yes'],
);

export const LOCAL_USAGE = usage(
  'npm run infra:local',
  '[--exit-with-tasks]',
  'Runs every persona of the last build (npm run infra:build) as its own process on this machine,\n' +
    'each Store in its own database on a local PostgreSQL, until Ctrl-C. The PostgreSQL is the\n' +
    'one INFRA_LOCAL_PG_URL names (an admin URL), or else an embedded one whose data stays in\n' +
    'the build folder (postgres/).',
  [
    ['--exit-with-tasks', 'stop everything once the deploy tasks are done and exit with their status'],
    ['-h, --help', 'print this help and start nothing'],
  ],
  [
    'npm run infra:local',
    'npm run infra:local -- --exit-with-tasks',
    'INFRA_LOCAL_PG_URL=postgres://postgres@db.internal:5432/postgres npm run infra:local',
  ],
);

/**
 * `parse()` (a strict parseArgs), with its error said the way every command says it: what, the
 * synopsis, where to read more.
 */
function parseStrictly<T>(of: Usage, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw errors.commandArguments(messageOf(err), of.synopsis, of.command);
  }
}

export function parseBuildArgs(args: readonly string[]): BuildArgs {
  // `npm run infra:prune` is the build persona with `--prune`: it takes only its own options.
  if (args.includes('--prune')) {
    const { values } = parseStrictly(PRUNE_USAGE, () =>
      parseArgs({
        args: [...args],
        strict: true,
        allowPositionals: false,
        options: { prune: { type: 'boolean' }, yes: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      }),
    );
    return {
      target: DEFAULT_TARGET,
      bindStore: [],
      unbindStore: [],
      resetValue: [],
      otlpEndpoint: undefined,
      withTelemetryUi: false,
      prune: true,
      yes: values.yes ?? false,
      help: values.help ?? false,
      usage: PRUNE_USAGE,
    };
  }
  const { values } = parseStrictly(BUILD_USAGE, () =>
    parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        'bind-store': { type: 'string', multiple: true },
        'unbind-store': { type: 'string', multiple: true },
        'reset-value': { type: 'string', multiple: true },
        'otlp-endpoint': { type: 'string' },
        'with-telemetry-ui': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  const help = values.help ?? false;
  const target = values.target ?? DEFAULT_TARGET;
  const otlpEndpoint = values['otlp-endpoint'];
  const withTelemetryUi = values['with-telemetry-ui'] ?? false;
  if (!help) {
    if (!TARGET_CHOICES.includes(target)) throw errors.unknownTarget(target, TARGET_CHOICES);
    refuseTelemetryOptions(target, otlpEndpoint, withTelemetryUi);
  }
  return {
    target,
    bindStore: values['bind-store'] ?? [],
    unbindStore: values['unbind-store'] ?? [],
    resetValue: values['reset-value'] ?? [],
    otlpEndpoint,
    withTelemetryUi,
    prune: false,
    yes: false,
    help,
    usage: BUILD_USAGE,
  };
}

/**
 * The telemetry options' mistakes, said as usage errors: an endpoint that is no http or https URL
 * (the personas would refuse it at start, in every container); credentials in it, which would be
 * written into compose.yaml and the manifests, readable by all; a dashboard for a target that
 * has none. The URL given is never repeated (it may hold a password).
 */
function refuseTelemetryOptions(target: string, otlpEndpoint: string | undefined, withTelemetryUi: boolean): void {
  const refuse = (reason: string): never => {
    throw errors.commandArguments(reason, BUILD_USAGE.synopsis, BUILD_USAGE.command);
  };
  if (withTelemetryUi && target !== TELEMETRY_UI_TARGET)
    refuse(
      `--with-telemetry-ui runs a dashboard in compose only, not with --target ${target}: ` +
        "use --otlp-endpoint with the cluster's OpenTelemetry collector instead (e.g. --otlp-endpoint http://otel-collector.observability:4318)",
    );
  if (otlpEndpoint === undefined) return;
  let url: URL;
  try {
    url = new URL(otlpEndpoint);
  } catch {
    return refuse(
      '--otlp-endpoint needs an http:// or https:// URL (the OTLP receiver, e.g. http://otel-collector:4318)',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    refuse(
      `--otlp-endpoint needs an http:// or https:// URL, not ${url.protocol} (the OTLP receiver, e.g. http://otel-collector:4318)`,
    );
  if (url.username !== '' || url.password !== '')
    refuse(
      '--otlp-endpoint may not hold a user or password: it is written into compose.yaml and the manifests. ' +
        'Give the receiver its credentials in OTEL_EXPORTER_OTLP_HEADERS (in compose.override.yaml, or a Secret)',
    );
}

export interface LocalArgs {
  readonly exitWithTasks: boolean;
  readonly help: boolean;
}

export function parseLocalArgs(args: readonly string[]): LocalArgs {
  const { values } = parseStrictly(LOCAL_USAGE, () =>
    parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: { 'exit-with-tasks': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }),
  );
  return { exitWithTasks: values['exit-with-tasks'] ?? false, help: values.help ?? false };
}
