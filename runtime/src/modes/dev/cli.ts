/**
 * `npm run dev`: the app in one process, started again within a second of a change to its
 * sources, with a dashboard on 127.0.0.1 (the map, the logs, the traces, an API explorer, the
 * Stores) at an address holding a random access token.
 *
 *   node --conditions=source <runtime>/src/modes/dev/cli.ts [ENTRY] [--port N]
 *
 * ENTRY is the app's entry module (default src/main.ts, from the working directory); its folder
 * is watched. A standalone program, not a persona of the app: an app whose startup throws (the
 * change being made is half done) still gets a dev loop that shows the error and waits for the fix.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { errors, messageOf } from '../../core/errors.ts';
import { conditionArgs } from '../node-conditions.ts';
import { withOptionalDependencies } from '../optional-dependencies.ts';
import { DEV_AGENT_ENV } from '../dev-protocol.ts';
import { DevSession } from './session.ts';
import { startDashboard } from './dashboard-server.ts';
import { watchSources } from './watch.ts';

export const DEV_USAGE = `Usage: npm run dev -- [--local] [--port N] [ENTRY]

Runs the app in one process (Stores in memory), as npm start does, and keeps it running: a change
under the entry's folder restarts it within a second or two. The dashboard's address (with its
access token) is printed at start; it shows the components and each persona's state, the logs,
the traces, every endpoint (to call) and every Store (to read).

Options:
  --local     run every persona as its own process on the local PostgreSQL, as npm run infra:local
              does, building first (npm run infra:build) at every start
  --port N    the dashboard's port on 127.0.0.1 (default: a free one)
  -h, --help  print this help and start nothing

ENTRY is the app's entry module, by default src/main.ts.

Examples:
  npm run dev
  npm run dev -- --local
  INFRA_LOCAL_PG_URL=postgres://postgres@127.0.0.1:5432/postgres npm run dev -- --local`;

export interface DevArgs {
  readonly entry: string;
  readonly local: boolean;
  readonly port: number | undefined;
  readonly help: boolean;
}

const SYNOPSIS = DEV_USAGE.split('\n')[0]!.slice('Usage: '.length);

/** A mistake on the command line, said as every command of ours says it (the synopsis, where to read more). */
const usageError = (reason: string) => errors.commandArguments(reason, SYNOPSIS, 'npm run dev');

export function parseDevArgs(args: readonly string[]): DevArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: { local: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw usageError(messageOf(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw usageError(`npm run dev takes one entry module, not ${positionals.join(' ')}`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw usageError(`--port needs a port number (0 to 65535), not ${values.port}`);
  return { entry: positionals[0] ?? 'src/main.ts', local: values.local ?? false, port, help: values.help ?? false };
}

/**
 * The app process's environment: the dev agent's, and telemetry sent to the dashboard as JSON
 * (the local runner hands LOG_FORMAT and the OTEL_* variables on to every persona).
 */
export function appEnvironment(
  env: NodeJS.ProcessEnv,
  dashboard: string,
  /** The OTLP receiver's, not the dashboard's. */
  token: string,
  mode: 'one-process' | 'local' = 'one-process',
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  // The dev loop says what runs, whatever the shell says.
  delete out.PERSONA;
  delete out.OTEL_SDK_DISABLED;
  return {
    ...out,
    ...(mode === 'local' ? { PERSONA: 'local' } : {}),
    [DEV_AGENT_ENV]: '1',
    LOG_FORMAT: 'json',
    OTEL_EXPORTER_OTLP_ENDPOINT: dashboard,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${token}`,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'none',
    // Spans show in the dashboard a moment after they end, not five seconds later.
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  };
}

/** The build's environment: the shell's, as `npm run infra:build` gets it. */
function buildEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PERSONA: 'build' };
}

export async function runDev(args: readonly string[], print: (line: string) => void = console.log): Promise<number> {
  const options = parseDevArgs(args);
  if (options.help) {
    print(DEV_USAGE);
    return 0;
  }
  const entry = resolve(options.entry);
  if (!existsSync(entry)) throw usageError(`No entry module ${entry}: give the app's entry module, e.g. src/main.ts`);
  const token = randomBytes(24).toString('base64url');
  // The app's processes get only this one: it lets them send spans, and read or call nothing.
  const ingestToken = randomBytes(24).toString('base64url');
  // The session needs the dashboard's address, and the dashboard the session: made in that order,
  // the app started once both are.
  let env: NodeJS.ProcessEnv = {};
  const mode = options.local ? 'local' : 'one-process';
  const node = [...conditionArgs(process.execArgv), entry];
  const session = new DevSession({
    command: process.execPath,
    args: node,
    cwd: process.cwd(),
    get env() {
      return env;
    },
    mode,
    // Local processes run what the last build wrote: it is made again at each start.
    ...(options.local ? { before: { args: node, env: buildEnvironment(process.env) } } : {}),
    print,
  });
  // The page's libraries (Preact, htm, Mermaid) are optional dependencies, as the build's are.
  const { server, port } = await withOptionalDependencies('npm run dev', () =>
    startDashboard({ session, token, ingestToken, ...(options.port === undefined ? {} : { port: options.port }) }),
  );
  const base = `http://127.0.0.1:${port}`;
  env = appEnvironment(process.env, base, ingestToken, mode);
  print(`Dashboard: ${base}/?token=${token}`);
  print(`Watching ${dirname(entry)} for changes; Ctrl-C stops`);
  session.start();
  const watcher = watchSources({
    folders: [dirname(entry)],
    root: process.cwd(),
    changed: (files) => void session.restart(files),
    failed: (err) =>
      print(
        `Watching ${dirname(entry)} failed (${messageOf(err)}): changes no longer restart the app. ` +
          'On Linux, a larger fs.inotify.max_user_watches helps; then start npm run dev again',
      ),
  });
  // Ctrl-C, `kill`, and the terminal closing.
  await new Promise<void>((done) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, done);
  });
  print('Stopping');
  watcher.close();
  await session.close();
  await server.close();
  return 0;
}

if (import.meta.main) {
  runDev(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(messageOf(err));
      process.exitCode = 2;
    },
  );
}
