/**
 * The build persona: runs the app's startup like every persona, then, instead of running
 * anything, resolves the build-time values and writes the deployment files:
 *
 *   <build>/values.json        every value and secret, kept across builds (0600)
 *   <build>/env/<service>.env  each service's secrets (0600)
 *   <build>/Dockerfile         the one app image
 *   .dockerignore              at the project root: the build context without secrets
 *   <build>/architecture.md    a Mermaid picture of personas, stores, APIs and who may use whom
 *   <build>/resources.json     the Stores' volumes and local databases, to warn about orphans
 *   compose.yaml               at the project root, so `docker compose up` works there
 *   <build>/kubernetes/        with `--target kubernetes`: the manifests (kubernetes.ts)
 *
 * `--bind-store` and `--unbind-store` (store-bindings.ts) are kept in the value file; the
 * command line is read strictly (build-args.ts).
 *
 * Everything is computed before anything is written, so an invalid tree (or any other
 * problem) writes nothing; each file is written atomically.
 *
 * One build (or prune) at a time per build folder: each holds the build lock (build-lock.ts) from
 * before it loads the value file until it has written the last file. A compose.yaml edited by
 * hand since the last build is kept in the build folder before it is replaced (hand-edits.ts).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunContext } from '../context.ts';
import type { ComponentPlatform } from '../../components/platform.ts';
import type { App } from '../../core/app.ts';
import type { AppPaths } from '../../core/paths.ts';
import { BuildPlatform } from '../../plan/build-platform.ts';
import { ValueFile } from '../../values/value-file.ts';
import { valueFilePath } from '../../core/paths.ts';
import type { BuildTimeValue } from '../../values/build-time-value.ts';
import { errors } from '../../core/errors.ts';
import { describeTree } from './tree.ts';
import { planDeployment, type BindingLookup, type DeploymentPlan } from '../../plan/plan.ts';
import { composeFile } from '../../targets/compose/compose.ts';
import { envFolder } from '../../targets/compose/env-files.ts';
import { readProjectLayout } from '../../targets/dockerfile/project.ts';
import { imageInstall, renderDockerfile } from '../../targets/dockerfile/dockerfile.ts';
import { renderDockerignore } from '../../targets/dockerfile/dockerignore.ts';
import { composePath } from '../../private/project-path.ts';
import { writeFileAtomic } from '../../private/atomic-write.ts';
import { architectureMarkdown } from '../../targets/diagram/diagram.ts';
import { buildNextSteps, parseBuildArgs, type BuildArgs } from '../command-line.ts';
import { kubernetesFiles, kubernetesFolder } from '../../targets/kubernetes/kubernetes.ts';
import { applyBindings, bindingRequests } from './store-bindings.ts';
import { composeProjectName, currentResources, nextRecord, readRecord, resourcesPath, writeRecord } from '../../resources/resources.ts';
import { dockerAvailable, volumeNames } from './prune.ts';
import { lockTimeoutMs, withBuildLock, type BuildLock } from './build-lock.ts';
import { findHandEdit, keepHandEdit } from '../../targets/hand-edits.ts';

export interface BuildOutput {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

export interface BuildResult {
  readonly plan: DeploymentPlan;
  /** The files to write, in the order they are written (compose.yaml, which names the others, last). */
  readonly files: readonly BuildOutput[];
  readonly warnings: readonly string[];
}

/**
 * The files of a build of `app` (whose values `file` holds, and whose bound Stores' checked URLs
 * `bindings` gives), computed without writing anything.
 */
export async function buildOutputs(app: App, file: ValueFile, paths: AppPaths, bindings: BindingLookup): Promise<BuildResult> {
  const plan = planDeployment(app, (id) => file.get(id), file.path, bindings);
  const layout = await readProjectLayout(paths);
  const install = imageInstall(paths.projectRoot);
  const dockerfile = join(paths.buildDir, 'Dockerfile');
  const compose = composeFile({ plan, projectRoot: paths.projectRoot, buildDir: paths.buildDir, dockerfile });
  const files: BuildOutput[] = [
    ...compose.envFiles.map((f) => ({ path: f.path, text: f.text, mode: 0o600 })),
    { path: dockerfile, text: renderDockerfile(app.root.value, layout, install), mode: 0o644 },
    { path: join(paths.projectRoot, '.dockerignore'), text: renderDockerignore(paths.projectRoot, paths.buildDir), mode: 0o644 },
    { path: join(paths.buildDir, 'architecture.md'), text: architectureMarkdown(app), mode: 0o644 },
    { path: join(paths.projectRoot, 'compose.yaml'), text: compose.text, mode: 0o644 },
  ];
  return { plan, files, warnings: [...layout.warnings, ...install.warnings] };
}

/**
 * Files of `folder` ending in `suffix` that this build does not write: env files and manifests
 * of services that no longer exist (secrets nobody should keep, objects `kubectl apply -k` must
 * not see).
 */
function staleFiles(folder: string, suffix: string, files: readonly BuildOutput[]): string[] {
  if (!existsSync(folder)) return [];
  const current = new Set(files.map((f) => f.path));
  return readdirSync(folder)
    .filter((name) => name.endsWith(suffix))
    .map((name) => join(folder, name))
    .filter((path) => !current.has(path));
}

/**
 * Two outputs at one path would leave only the second: a component whose name is one the build
 * uses itself (`every-api`, `kustomization`, `network-policies`) as the root of its app.
 */
function refuseClashingOutputs(plan: DeploymentPlan, outputs: readonly BuildOutput[], projectRoot: string): void {
  const seen = new Set<string>();
  for (const { path } of outputs) {
    if (!seen.has(path)) {
      seen.add(path);
      continue;
    }
    const name = basename(path).replace(/\.[^.]*$/, '');
    const component = [...plan.personas.map((p) => p.persona), ...plan.stores.map((s) => s.store)].find((c) => c.id.dnsLabel === name);
    throw errors.outputClash(composePath(projectRoot, path), component ? `${component.kind} ${component.id.value}` : name);
  }
}

/**
 * PostgreSQL fixes a password when its volume is first initialised, so a new password for a
 * store whose volume exists (the value file was deleted or lost) would lock the app out of its
 * own data. Refuse before writing anything.
 */
function refuseNewPasswordForExistingVolume(plan: DeploymentPlan, made: readonly string[], projectRoot: string, env: NodeJS.ProcessEnv): void {
  const renewed = plan.stores.filter((s) => s.binding === undefined && made.includes(s.store.password.id.value));
  if (renewed.length === 0 || !dockerAvailable()) return;
  const project = composeProjectName(projectRoot, env);
  const volumes = volumeNames();
  for (const s of renewed) {
    const volume = `${project}_${s.volume}`;
    if (volumes.has(volume)) throw errors.passwordWouldChange(s.store.id.value, volume);
  }
}

export async function runBuild(context: RunContext): Promise<number> {
  const { app, paths, log } = context;
  const args = parseBuildArgs(context.args);
  if (args.help) {
    log.info(args.usage.text);
    return 0;
  }
  // One build at a time: the value file is loaded, completed and saved holding the lock (build-lock.ts).
  const lockOptions = { app: app.root.value, log, show: (path: string) => composePath(paths.projectRoot, path), timeoutMs: lockTimeoutMs(context.env) };
  return withBuildLock(paths.buildDir, lockOptions, (lock) => buildLocked(context, args, lock));
}

/** The build (or, with --prune, the prune), run holding the build lock. */
async function buildLocked(context: RunContext, args: BuildArgs, lock: BuildLock): Promise<number> {
  const { app, paths, log } = context;
  if (args.prune) {
    const { runPrune } = await import('./prune.ts');
    return runPrune(context, args.yes);
  }
  const file = ValueFile.load(valueFilePath(paths.buildDir));
  app.enter('build', new BuildPlatform(file));
  const made = file.resolve(app);
  const bindings = applyBindings(app, file, bindingRequests(args.bindStore, args.unbindStore, context.env));
  const result = await buildOutputs(app, file, paths, (id) => bindings.urls.get(id));
  // The kubernetes target adds its manifests to the files every build writes (values, image, compose).
  const kubernetes = args.target === 'kubernetes';
  const outputs = kubernetes ? [...result.files, ...kubernetesFiles(result.plan, paths.buildDir)] : result.files;
  refuseClashingOutputs(result.plan, outputs, paths.projectRoot);
  const stale = [...staleFiles(envFolder(paths.buildDir), '.env', outputs), ...(kubernetes ? staleFiles(kubernetesFolder(paths.buildDir), '.yaml', outputs) : [])];
  const record = nextRecord(readRecord(paths.buildDir), currentResources(result.plan, paths.buildDir));
  refuseNewPasswordForExistingVolume(result.plan, made, paths.projectRoot, context.env);
  // A compose.yaml changed by hand since the build wrote it is kept before it is replaced (hand-edits.ts).
  const handEdit = findHandEdit(outputs.find((o) => o.path === join(paths.projectRoot, 'compose.yaml'))!);

  log.info(`Component tree of ${app.root.value}:\n${describeTree(app)}`);
  const show = (path: string) => composePath(paths.projectRoot, path);
  lock.assertHeld();
  file.save();
  log.info(`${made.length ? `Made ${made.length} new value(s); kept` : 'Kept'} ${file.ids.length - made.length} in ${show(file.path)} (mode 0600)`);
  if (handEdit) log.info(`Warning: ${keepHandEdit(handEdit, paths.buildDir, show)}`);
  for (const output of outputs) {
    writeFileAtomic(output.path, output.text, output.mode);
    log.info(`Wrote ${show(output.path)}${output.mode === 0o600 ? ' (mode 0600)' : ''}`);
  }
  for (const path of stale) {
    rmSync(path, { force: true });
    log.info(`Removed ${show(path)} (its service is gone)`);
  }
  for (const line of bindings.lines) log.info(line);
  writeRecord(paths.buildDir, record);
  log.info(`Wrote ${show(resourcesPath(paths.buildDir))}`);
  const project = composeProjectName(paths.projectRoot, context.env);
  for (const orphan of record.orphaned) {
    log.info(
      `Warning: Store ${orphan.store} is no longer in the code, but its data remains: docker volume ${project}_${orphan.volume} ` +
        `(compose volume ${orphan.volume}) and local database ${orphan.database}. Run \`npm run infra:prune\` to remove them.`,
    );
  }
  for (const warning of [...bindings.warnings, ...result.warnings]) log.info(`Warning: ${warning}`);
  log.info(buildNextSteps(args.target, { root: app.root.dnsLabel, dockerfile: show(join(paths.buildDir, 'Dockerfile')), kubernetesFolder: show(kubernetesFolder(paths.buildDir)) }));
  return 0;
}
