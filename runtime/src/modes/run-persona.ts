/**
 * runPersona(): the one call at the end of an app's entry module. Startup (the module's code
 * up to here) has built the tree; the PERSONA environment variable says what this process is:
 *
 *   unset          every persona in this process (debugging)
 *   build          the build persona: writes compose.yaml, the Dockerfile and the value file
 *   local          every persona as its own process on this machine, from the last build
 *   <persona ID>   that one persona, deployed (inside a container, or a local process)
 */
import { defaultApp, appOf } from '../core/app.ts';
import type { ID } from '../core/id.ts';
import { errors, messageOf } from '../core/errors.ts';
import { appPaths, valueFilePath, type AppPaths } from '../core/paths.ts';
import { consoleLogger, type Logger } from '../core/logger.ts';
import type { App } from '../core/app.ts';
import { telemetrySettings } from '../core/telemetry/settings.ts';
import { pinoLogger, setUpLogging } from '../core/telemetry/log.ts';
import { startTelemetry } from './telemetry-sdk.ts';
import type { RunContext } from './context.ts';
import { runInProcess } from './in-process/in-process.ts';
import { DEV_AGENT_ENV } from './dev-protocol.ts';
import { withOptionalDependencies } from './optional-dependencies.ts';

export interface RunPersonaOptions {
  /** The app to run, by its root ID. Default: the app of the latest `rootId()` call. */
  root?: ID;
  /** The persona; default `env.PERSONA`. */
  persona?: string;
  /** The environment to read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Where the app's files are (default: found from the entry module). */
  paths?: Partial<AppPaths>;
  /**
   * Arguments after the script (the build's options), default `process.argv.slice(2)`. The build
   * refuses options it does not know, so a program that runs the build with argv of its own
   * (a test runner, say) passes `[]`.
   */
  args?: string[];
  /**
   * Where the runtime's own lines go. Default: the build and the local runner print plain lines
   * (they are command-line tools); personas log through pino (LOG_LEVEL, LOG_FORMAT).
   */
  log?: Logger;
  /** Set `process.exitCode` from the result (default true). */
  setExitCode?: boolean;
}

const BUILD_PERSONA = 'build';
const LOCAL_PERSONA = 'local';

/**
 * Runs the current persona and resolves to its exit code (also set as `process.exitCode`).
 * Errors are printed, not thrown, so the app's last line can be a bare `runPersona();`.
 */
export async function runPersona(options: RunPersonaOptions = {}): Promise<number> {
  const log = options.log ?? consoleLogger;
  let code: number;
  try {
    code = await dispatch(options, options.log);
  } catch (err) {
    log.error(messageOf(err), err instanceof Error && !('code' in err) ? err : undefined);
    code = 1;
  }
  if (options.setExitCode ?? true) process.exitCode = code;
  return code;
}

async function dispatch(options: RunPersonaOptions, given: Logger | undefined): Promise<number> {
  const app = options.root ? appOf(options.root) : defaultApp();
  if (!app) throw errors.noApp();
  const env = options.env ?? process.env;
  const persona = options.persona ?? env.PERSONA ?? '';
  const context: RunContext = {
    app,
    env,
    paths: appPaths(options.paths, env),
    args: options.args ?? process.argv.slice(2),
    log: given ?? consoleLogger,
  };

  if (persona === '') {
    const valueFile = valueFilePath(context.paths.buildDir);
    // Started by `npm run dev`, which talks to it over the IPC channel (dev-protocol.ts).
    if (env[DEV_AGENT_ENV] === '1' && process.send !== undefined) {
      const { runInProcessForDev } = await import('./in-process/dev-agent.ts');
      return withTelemetry(app, undefined, context, given, (log) => runInProcessForDev(app, { valueFile, log }));
    }
    return withTelemetry(app, undefined, context, given, (log) => runInProcess(app, { valueFile, log }));
  }
  // The build and the local runner use packages the app image leaves out (optional dependencies).
  if (persona === BUILD_PERSONA) {
    return withOptionalDependencies('The build (PERSONA=build)', async () =>
      (await import('./build-persona/build.ts')).runBuild(context),
    );
  }
  if (persona === LOCAL_PERSONA) {
    return withOptionalDependencies('The local runner (PERSONA=local)', async () =>
      (await import('./local/local.ts')).runLocal(context),
    );
  }
  const target = app.personas.find((p) => p.id.value === persona);
  if (!target)
    throw errors.unknownPersona(
      persona,
      app.personas.map((p) => p.id.value),
    );
  const { runDeployed } = await import('./deployed/deployed.ts');
  return withTelemetry(app, target.id.value, context, given, (log) => runDeployed({ ...context, log }, target));
}

/**
 * Runs personas with their logs and telemetry set up from the environment (LOG_LEVEL,
 * LOG_FORMAT, OTEL_*), and sends the last spans and metrics when they are done.
 */
async function withTelemetry(
  app: App,
  persona: string | undefined,
  context: RunContext,
  given: Logger | undefined,
  run: (log: Logger) => Promise<number>,
): Promise<number> {
  const settings = telemetrySettings(context.env, process.stdout.isTTY === true);
  let log = given;
  if (log === undefined) {
    // The root logger stays set after runPersona() returns, for the app's own `log` calls.
    await setUpLogging({
      level: settings.logLevel,
      format: settings.logFormat,
      app: app.root.value,
      persona,
    });
    log = pinoLogger;
  }
  const telemetry = await startTelemetry({
    exporting: settings.exporting,
    env: context.env,
    serviceName: persona ?? app.root.value,
    app: app.root.value,
    log,
  });
  try {
    return await run(log);
  } finally {
    const sent = await telemetry.shutdown();
    // An export still waiting on a collector that does not answer would keep the process alive
    // until the exporter's own timeout, past its shutdown grace: it exits once runPersona() has
    // set the exit code (a timer of its own: only when nothing else would end the process sooner).
    if (!sent) setTimeout(() => process.exit(), 0).unref();
  }
}
