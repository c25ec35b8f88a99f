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
 *
 * Everything is computed before anything is written, so an invalid tree (or any other
 * problem) writes nothing; each file is written atomically.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../persona.ts';
import type { Platform } from '../platform.ts';
import type { App } from '../app.ts';
import type { AppPaths } from '../paths.ts';
import { ValueFile } from '../secrets/value-file.ts';
import { valueFilePath } from '../paths.ts';
import type { BuildTimeValue } from '../secrets/build-time-value.ts';
import { errors } from '../errors.ts';
import { describeTree } from './tree.ts';
import { planDeployment, type DeploymentPlan } from './plan.ts';
import { composeFile } from './compose.ts';
import { envFolder } from './env-files.ts';
import { readProjectLayout } from './project.ts';
import { renderDockerfile } from './dockerfile.ts';
import { renderDockerignore } from './dockerignore.ts';
import { composePath } from './project-path.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { architectureMarkdown } from './diagram.ts';
import { buildTarget } from './target.ts';
import { kubernetesFiles } from './kubernetes.ts';
import { composeProjectName, currentResources, nextRecord, readRecord, resourcesPath, writeRecord } from './resources.ts';
import { dockerAvailable, volumeExists } from './prune.ts';

/** At build time only values exist; stores and endpoints are runtime calls (they check first). */
export class BuildPlatform implements Platform {
  readonly mode = 'deployed';
  readonly #file: ValueFile;
  constructor(file: ValueFile) {
    this.#file = file;
  }
  storeBackend(): never {
    throw errors.wrongPhase('Store', 'a store call', ['runtime'], 'build');
  }
  call(): never {
    throw errors.wrongPhase('ApiServer', 'an endpoint call', ['runtime'], 'build');
  }
  serve(): never {
    throw errors.wrongPhase('ApiServer', 'serving', ['runtime'], 'build');
  }
  value<T>(value: BuildTimeValue<any>): T {
    return this.#file.get(value.id.value) as T;
  }
  async close(): Promise<void> {}
}

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

/** The files of a build of `app` (whose values `file` holds), computed without writing anything. */
export function buildOutputs(app: App, file: ValueFile, paths: AppPaths): BuildResult {
  const plan = planDeployment(app, (id) => file.get(id), file.path);
  const layout = readProjectLayout(paths);
  const dockerfile = join(paths.buildDir, 'Dockerfile');
  const compose = composeFile({ plan, projectRoot: paths.projectRoot, buildDir: paths.buildDir, dockerfile });
  const files: BuildOutput[] = [
    ...compose.envFiles.map((f) => ({ path: f.path, text: f.text, mode: 0o600 })),
    { path: dockerfile, text: renderDockerfile(app.root.value, layout), mode: 0o644 },
    { path: join(paths.projectRoot, '.dockerignore'), text: renderDockerignore(paths.projectRoot, paths.buildDir), mode: 0o644 },
    { path: join(paths.buildDir, 'architecture.md'), text: architectureMarkdown(app), mode: 0o644 },
    { path: join(paths.projectRoot, 'compose.yaml'), text: compose.text, mode: 0o644 },
  ];
  return { plan, files, warnings: layout.warnings };
}

/** Env files of services that no longer exist: secrets nobody should keep. */
function staleEnvFiles(buildDir: string, files: readonly BuildOutput[]): string[] {
  const folder = envFolder(buildDir);
  if (!existsSync(folder)) return [];
  const current = new Set(files.map((f) => f.path));
  return readdirSync(folder)
    .filter((name) => name.endsWith('.env'))
    .map((name) => join(folder, name))
    .filter((path) => !current.has(path));
}

/**
 * PostgreSQL fixes a password when its volume is first initialised, so a new password for a
 * store whose volume exists (the value file was deleted or lost) would lock the app out of its
 * own data. Refuse before writing anything.
 */
function refuseNewPasswordForExistingVolume(plan: DeploymentPlan, made: readonly string[], projectRoot: string, env: NodeJS.ProcessEnv): void {
  const renewed = plan.stores.filter((s) => made.includes(s.store.password.id.value));
  if (renewed.length === 0 || !dockerAvailable()) return;
  const project = composeProjectName(projectRoot, env);
  for (const s of renewed) {
    const volume = `${project}_${s.volume}`;
    if (volumeExists(volume)) throw errors.passwordWouldChange(s.store.id.value, volume);
  }
}

export async function runBuild(context: RunContext): Promise<number> {
  const { app, paths, log } = context;
  if (context.args.includes('--prune')) {
    const { runPrune } = await import('./prune.ts');
    return runPrune(context);
  }
  const file = ValueFile.load(valueFilePath(paths.buildDir));
  app.enter('build', new BuildPlatform(file));
  const made = file.resolve(app);
  const result = buildOutputs(app, file, paths);
  // The kubernetes target adds its manifests to the files every build writes (values, image, compose).
  const outputs = buildTarget(context.args) === 'kubernetes' ? [...result.files, ...kubernetesFiles(result.plan, paths.buildDir)] : result.files;
  const record = nextRecord(readRecord(paths.buildDir), currentResources(result.plan, paths.buildDir));
  refuseNewPasswordForExistingVolume(result.plan, made, paths.projectRoot, context.env);

  log.info(`Component tree of ${app.root.value}:\n${describeTree(app)}`);
  const show = (path: string) => composePath(paths.projectRoot, path);
  file.save();
  log.info(`${made.length ? `Made ${made.length} new value(s); kept` : 'Kept'} ${file.ids.length - made.length} in ${show(file.path)} (mode 0600)`);
  for (const output of outputs) {
    writeFileAtomic(output.path, output.text, output.mode);
    log.info(`Wrote ${show(output.path)}${output.mode === 0o600 ? ' (mode 0600)' : ''}`);
  }
  for (const stale of staleEnvFiles(paths.buildDir, result.files)) {
    rmSync(stale, { force: true });
    log.info(`Removed ${show(stale)} (its service is gone)`);
  }
  writeRecord(paths.buildDir, record);
  log.info(`Wrote ${show(resourcesPath(paths.buildDir))}`);
  const project = composeProjectName(paths.projectRoot, context.env);
  for (const orphan of record.orphaned) {
    log.info(
      `Warning: Store ${orphan.store} is no longer in the code, but its data remains: docker volume ${project}_${orphan.volume} ` +
        `(compose volume ${orphan.volume}) and local database ${orphan.database}. Run \`npm run infra:prune\` to remove them.`,
    );
  }
  for (const warning of result.warnings) log.info(`Warning: ${warning}`);
  return 0;
}
