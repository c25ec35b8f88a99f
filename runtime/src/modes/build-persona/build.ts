/**
 * The build persona: runs the app's startup like every persona, then, instead of running
 * anything, resolves the build-time values and writes the deployment files:
 *
 *   <build>/values.json        every value and secret, kept across builds (0600)
 *   <build>/resources.json     the Stores' volumes and local databases, to warn about orphans
 *
 * and the files of each target (targets/target.ts): compose.yaml at the project root and
 * <build>/env/<service>.env (0600); <build>/Dockerfile and .dockerignore at the project root;
 * <build>/architecture.md; with `--target kubernetes`, <build>/kubernetes/.
 *
 * `build()` is a list of steps, each a function named for what it does (as aws-cdk-lib's
 * `synthesize()` reads):
 *
 *   compute   loadTargets, loadValues, planBuild, targetFiles (each target checks its own:
 *             the Kubernetes manifests against their schemas and the tree)
 *   check     refuseClashingOutputs, refuseNewPasswordForExistingVolume
 *   read      staleFiles, nextResourcesRecord, findHandEdits: what is on disk now
 *   write     reportTree, writeValues, keepHandEdits, writeFiles, removeStaleFiles,
 *             reportBindings, writeResourcesRecord
 *   report    reportOrphans, reportWarnings, reportNextSteps
 *
 * Everything is computed and checked before anything is written, so an invalid tree (or any
 * other problem, such as a damaged value: values/value-file.ts) writes nothing; each file is
 * written atomically, through a temporary file no planted link can redirect, and every folder
 * holding secrets is private (private/atomic-write.ts). `--bind-store` and `--unbind-store`
 * (store-bindings.ts) are kept in the value file; `--reset-value ID` makes a value anew;
 * `--otlp-endpoint URL` and `--with-telemetry-ui` say where the personas' telemetry goes (this
 * build's files only: they are not kept); the command line is read strictly (command-line.ts).
 * The build folder may not be the project root nor a shared folder (refuseUnsafeBuildFolder).
 *
 * One build (or prune) at a time per build folder: each holds the build lock (build-lock.ts) from
 * before it loads the value file until it has written the last file. A compose.yaml edited by
 * hand since the last build is kept in the build folder before it is replaced (hand-edits.ts).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { RunContext } from '../context.ts';
import { BuildPlatform } from '../build-platform.ts';
import { ValueFile } from '../../values/value-file.ts';
import { valueFilePath } from '../../core/paths.ts';
import { errors } from '../../core/errors.ts';
import { describeTree } from './tree.ts';
import { planDeployment, type DeploymentPlan } from '../../plan/plan.ts';
import { composePath, inProject } from '../../private/project-path.ts';
import { makePrivateFolder, writeFileAtomic } from '../../private/atomic-write.ts';
import { parseBuildArgs, type BuildArgs } from '../command-line.ts';
import { applyBindings, bindingRequests } from './store-bindings.ts';
import {
  composeProjectName,
  currentResources,
  nextRecord,
  readRecord,
  resourcesPath,
  writeRecord,
  type ResourceRecord,
} from '../../resources/resources.ts';
import { dockerAvailable, volumeNames } from '../../resources/docker-volumes.ts';
import { lockTimeoutMs, withBuildLock, type BuildLock } from './build-lock.ts';
import { findHandEdit, keepHandEdit, type HandEdit } from '../../targets/hand-edits.ts';
import type { OutputFile, TargetContext } from '../../targets/target.ts';
import { loadTargets, type BuildTargets } from '../../targets/registry.ts';

export async function runBuild(context: RunContext): Promise<number> {
  const { app, paths, log } = context;
  const args = parseBuildArgs(context.args);
  if (args.help) {
    log.info(args.usage.text);
    return 0;
  }
  refuseUnsafeBuildFolder(context);
  // One build at a time: the value file is loaded, completed and saved holding the lock (build-lock.ts).
  const lockOptions = {
    app: app.root.value,
    log,
    show: (path: string) => show(context, path),
    timeoutMs: lockTimeoutMs(context.env),
  };
  return withBuildLock(paths.buildDir, lockOptions, async (lock) => {
    if (!args.prune) return build(context, args, lock);
    const { runPrune } = await import('./prune.ts');
    return runPrune(context, args.yes);
  });
}

/** The build, run holding the build lock: its steps in order (see the top of this file). */
async function build(context: RunContext, args: BuildArgs, lock: BuildLock): Promise<number> {
  // Compute: nothing is written before every check has passed.
  const targets = await loadTargets(args.target);
  const values = loadValues(context, args);
  const plan = planBuild(context, values, args);
  const files = await targetFiles(plan, targets, context);
  // Check.
  refuseClashingOutputs(plan, files.outputs, context);
  // A value made anew on request (--reset-value) is the user's choice; writeValues warns about it.
  refuseNewPasswordForExistingVolume(
    plan,
    values.made.filter((id) => !values.reset.includes(id)),
    context,
  );
  // Read what is on disk now.
  const stale = staleFiles(targets, files.outputs, context);
  const record = nextResourcesRecord(plan, context);
  const handEdits = findHandEdits(files.outputs);
  // Write.
  reportTree(context);
  lock.assertHeld();
  writeValues(values, plan, context);
  keepHandEdits(handEdits, context);
  writeFiles(files.outputs, context);
  removeStaleFiles(stale, context);
  reportBindings(values, context);
  writeResourcesRecord(record, context);
  // Report.
  reportOrphans(record, context);
  reportWarnings([...values.bindings.warnings, ...files.warnings], context);
  reportNextSteps(plan, targets, context);
  return 0;
}

/**
 * The build folder holds every secret, so it may not be where they would leak:
 *   - the project root: it is the image's build context, and `.dockerignore` can keep a build
 *     folder out of it only as a folder of its own (the Dockerfile's `COPY . .` would take the
 *     value file and env files; and the build's other files would mix with the sources);
 *   - a shared folder such as /tmp (sticky): others may plant files in it, and it cannot be made
 *     private.
 * A build folder outside the project is fine: it is not in the build context at all.
 */
function refuseUnsafeBuildFolder({ paths }: RunContext): void {
  const fix =
    'Leave INFRA_BUILD_DIR unset (the build folder is then <app>/build), or set it to a folder of its own, e.g. INFRA_BUILD_DIR=build';
  if (resolve(paths.buildDir) === resolve(paths.projectRoot))
    throw errors.unsafeBuildFolder(
      paths.buildDir,
      "is the project root, the image's build context: the image build would take the value file and env files",
      fix,
    );
  const fromBuild = relative(resolve(paths.buildDir), resolve(paths.appDir));
  if (fromBuild === '' || !(fromBuild === '..' || fromBuild.startsWith(`..${sep}`) || isAbsolute(fromBuild)))
    throw errors.unsafeBuildFolder(
      paths.buildDir,
      `holds the app itself (${composePath(paths.projectRoot, paths.appDir)}): it would be made private and kept out of the image, and the app's folder would fill with secrets`,
      fix,
    );
  let mode: number;
  try {
    mode = statSync(paths.buildDir).mode;
  } catch {
    return; // made by the build lock
  }
  if ((mode & 0o1000) !== 0 && (mode & 0o002) !== 0)
    throw errors.unsafeBuildFolder(
      paths.buildDir,
      'is a shared folder (world-writable, sticky, like /tmp): others could plant files in it, and it cannot be made private',
      `Set INFRA_BUILD_DIR to a folder of its own in it, e.g. INFRA_BUILD_DIR=${join(paths.buildDir, `${basename(paths.appDir)}-build`)}, or leave it unset`,
    );
}

/** `path` as the build's messages show it: relative to the project root. */
function show({ paths }: RunContext, path: string): string {
  return composePath(paths.projectRoot, path);
}

/**
 * The value file, completed: `made` the IDs of the values this build made, `reset` those of them
 * made on request (`--reset-value`); the Stores' bindings applied.
 */
interface Values {
  readonly file: ValueFile;
  readonly made: readonly string[];
  readonly reset: readonly string[];
  readonly bindings: ReturnType<typeof applyBindings>;
}

/**
 * Loads the value file, enters the build phase (the tree is frozen; values are read from the
 * file), makes the values it does not hold yet and applies `--bind-store` and `--unbind-store`.
 */
function loadValues({ app, paths, env }: RunContext, args: BuildArgs): Values {
  const file = ValueFile.load(valueFilePath(paths.buildDir));
  app.enter('build', new BuildPlatform(file));
  const made = file.resolve(app, args.resetValue);
  const bindings = applyBindings(app, file, bindingRequests(args.bindStore, args.unbindStore, env));
  return { file, made, reset: [...new Set(args.resetValue)], bindings };
}

/**
 * The deployment plan (plan/plan.ts) of the app, with the values and bindings just loaded, and
 * where the telemetry goes (`--otlp-endpoint`, `--with-telemetry-ui`: this build's only).
 */
function planBuild({ app }: RunContext, { file, bindings }: Values, args: BuildArgs): DeploymentPlan {
  return planDeployment(
    app,
    (id) => file.get(id),
    file.path,
    (id) => bindings.urls.get(id),
    { otlpEndpoint: args.otlpEndpoint, ui: args.withTelemetryUi },
  );
}

/** The files of every target of the build, in the order they are written, and the targets' warnings. */
interface TargetFiles {
  readonly outputs: readonly OutputFile[];
  readonly warnings: readonly string[];
}

/**
 * Asks each target for its files, in the order of TARGETS. They are written group by group
 * (every build's targets, then the chosen one), in each a file that names others after them.
 */
async function targetFiles(plan: DeploymentPlan, targets: BuildTargets, { paths }: RunContext): Promise<TargetFiles> {
  const warnings: string[] = [];
  const context: TargetContext = { paths, warn: (message) => warnings.push(message) };
  const outputs: OutputFile[] = [];
  for (const group of targets.groups) {
    const files: OutputFile[] = [];
    for (const target of group) files.push(...(await target.files(plan, context)));
    outputs.push(...files.filter((f) => !f.namesOthers), ...files.filter((f) => f.namesOthers));
  }
  return { outputs, warnings };
}

/**
 * Two outputs at one path would leave only the second: a component whose name is one the build
 * uses itself (`every-api`, `kustomization`, `network-policies`) as the root of its app.
 */
function refuseClashingOutputs(plan: DeploymentPlan, outputs: readonly OutputFile[], context: RunContext): void {
  const seen = new Set<string>();
  for (const { path } of outputs) {
    if (!seen.has(path)) {
      seen.add(path);
      continue;
    }
    const name = basename(path).replace(/\.[^.]*$/, '');
    const component = [...plan.personas.map((p) => p.persona), ...plan.stores.map((s) => s.store)].find(
      (c) => c.id.dnsLabel === name,
    );
    throw errors.outputClash(show(context, path), component ? `${component.kind} ${component.id.value}` : name);
  }
}

/**
 * PostgreSQL fixes a password when its volume is first initialised, so a new password for a
 * store whose volume exists (the value file was deleted or lost) would lock the app out of its
 * own data. Refuse before writing anything.
 */
function refuseNewPasswordForExistingVolume(
  plan: DeploymentPlan,
  made: readonly string[],
  { paths, env }: RunContext,
): void {
  const renewed = plan.stores.filter((s) => s.binding === undefined && made.includes(s.store.password.id.value));
  if (renewed.length === 0 || !dockerAvailable()) return;
  const project = composeProjectName(paths.projectRoot, env);
  const volumes = volumeNames();
  for (const s of renewed) {
    const volume = `${project}_${s.volume}`;
    if (volumes.has(volume)) throw errors.passwordWouldChange(s.store.id.value, volume);
  }
}

/**
 * The files in the targets' own folders that this build does not write: env files and manifests
 * of services that no longer exist (secrets nobody should keep, objects `kubectl apply -k` must
 * not see).
 */
function staleFiles(targets: BuildTargets, outputs: readonly OutputFile[], { paths }: RunContext): string[] {
  const current = new Set(outputs.map((f) => f.path));
  return targets.groups.flat().flatMap((target) => {
    const own = target.ownFolder?.(paths);
    if (own === undefined || !existsSync(own.path)) return [];
    return readdirSync(own.path)
      .filter((name) => name.endsWith(own.suffix))
      .map((name) => join(own.path, name))
      .filter((path) => !current.has(path));
  });
}

/** The Stores' resources record after this build: what the plan uses, and each earlier one it no longer names. */
function nextResourcesRecord(plan: DeploymentPlan, { paths }: RunContext): ResourceRecord {
  return nextRecord(readRecord(paths.buildDir), currentResources(plan, paths.buildDir));
}

/** The files about to be replaced that were changed by hand since the build wrote them (hand-edits.ts). */
function findHandEdits(outputs: readonly OutputFile[]): HandEdit[] {
  return outputs.filter((o) => o.keepsHandEdits).flatMap((o) => findHandEdit(o) ?? []);
}

function reportTree({ app, log }: RunContext): void {
  log.info(`Component tree of ${app.root.value}:\n${describeTree(app)}`);
}

function writeValues({ file, made, reset }: Values, plan: DeploymentPlan, context: RunContext): void {
  file.save();
  context.log.info(
    `${made.length ? `Made ${made.length} new value(s); kept` : 'Kept'} ${file.ids.length - made.length} in ${show(context, file.path)} (mode 0600)`,
  );
  for (const id of reset) {
    const store = plan.stores.find((s) => s.store.password.id.value === id);
    context.log.info(
      store === undefined
        ? `Made a new value for ${id} (--reset-value)`
        : store.binding !== undefined
          ? `Made a new password for Store ${store.store.id.value} (--reset-value); it is bound to an existing PostgreSQL, which does not use it`
          : `Warning: made a new password for Store ${store.store.id.value} (--reset-value). Its database, if it was initialised with the old one, ` +
            `still expects that: change the database's password to the new one (ALTER ROLE … PASSWORD …), or the Store's personas are locked out of its data`,
    );
  }
}

/** Keeps a copy of each hand-edited file in the build folder, and says so. */
function keepHandEdits(edits: readonly HandEdit[], context: RunContext): void {
  for (const edit of edits)
    context.log.info(`Warning: ${keepHandEdit(edit, context.paths.buildDir, (path) => show(context, path))}`);
}

function writeFiles(outputs: readonly OutputFile[], context: RunContext): void {
  // The build's own folders that hold secrets (env/, kubernetes/) are private, also when an
  // older version or a hand made them wider (the build folder itself is made private by the lock).
  const secretFolders = new Set(outputs.filter((o) => o.mode === 0o600).map((o) => dirname(o.path)));
  for (const folder of secretFolders)
    if (inProject(context.paths.buildDir, folder) !== undefined) makePrivateFolder(folder);
  for (const output of outputs) {
    writeFileAtomic(output.path, output.text, output.mode);
    context.log.info(`Wrote ${show(context, output.path)}${output.mode === 0o600 ? ' (mode 0600)' : ''}`);
  }
}

function removeStaleFiles(stale: readonly string[], context: RunContext): void {
  for (const path of stale) {
    rmSync(path, { force: true });
    context.log.info(`Removed ${show(context, path)} (its service is gone)`);
  }
}

/** What `--bind-store` and `--unbind-store` changed. */
function reportBindings({ bindings }: Values, { log }: RunContext): void {
  for (const line of bindings.lines) log.info(line);
}

function writeResourcesRecord(record: ResourceRecord, context: RunContext): void {
  writeRecord(context.paths.buildDir, record);
  context.log.info(`Wrote ${show(context, resourcesPath(context.paths.buildDir))}`);
}

/** Stores gone from the code whose data remains, until `npm run infra:prune` removes it. */
function reportOrphans(record: ResourceRecord, { paths, env, log }: RunContext): void {
  const project = composeProjectName(paths.projectRoot, env);
  for (const orphan of record.orphaned) {
    log.info(
      `Warning: ${orphan.kind ?? 'Store'} ${orphan.store} is no longer in the code, but its data remains: docker volume ${project}_${orphan.volume} ` +
        `(compose volume ${orphan.volume}) and local database ${orphan.database}. Run \`npm run infra:prune\` to remove them.`,
    );
  }
}

function reportWarnings(warnings: readonly string[], { log }: RunContext): void {
  for (const warning of warnings) log.info(`Warning: ${warning}`);
}

/** The build's last line: what to run next for the deployment `--target` chose. */
function reportNextSteps(plan: DeploymentPlan, targets: BuildTargets, { paths, log }: RunContext): void {
  const next = targets.chosen.nextSteps?.(plan, paths);
  if (next !== undefined) log.info(next);
}
