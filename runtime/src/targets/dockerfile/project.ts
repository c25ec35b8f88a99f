/**
 * What the Dockerfile needs to know about the npm project: the package.json files `npm ci`
 * reads (the root's and each workspace's), the TypeScript projects to compile and where they
 * emit, and the compiled entry module the image runs. tsconfig.json is read as `tsc` reads it
 * (get-tsconfig: `extends` followed, paths relative to the config that sets them) and the
 * workspaces as npm finds them (@npmcli/map-workspaces, npm's own code); both libraries are
 * loaded only when a build reads the project, never by a deployed persona.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import type { AppPaths } from '../../core/paths.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { inProject } from '../../private/project-path.ts';

export interface TypeScriptProject {
  /** tsconfig.json, relative to the project root. */
  readonly tsconfig: string;
  /** Its output folder, relative to the project root. */
  readonly outDir: string;
}

export interface ProjectLayout {
  /** package.json files `npm ci` needs, relative to the project root: the root's first. */
  readonly packageFiles: readonly string[];
  readonly hasLockFile: boolean;
  /** TypeScript projects to compile, in workspace order. */
  readonly compile: readonly TypeScriptProject[];
  /** Folders or files the final image takes from the build stage (compiled JavaScript). */
  readonly outputs: readonly string[];
  /** The command that starts a persona in the image. */
  readonly command: readonly string[];
  /** Things the build can still write, but that will stop the image from building. */
  readonly warnings: readonly string[];
}

function readJson(file: string): Record<string, any> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw errors.unreadableConfig(file, messageOf(err));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw errors.unreadableConfig(file, 'not a JSON object');
  return value as Record<string, any>;
}

type MapWorkspaces = (options: { cwd: string; pkg: Record<string, unknown> }) => Promise<Map<string, string>>;

/**
 * The workspace folders of the root package.json as npm finds them (globs, `!` negations,
 * folders without a package.json left out), in npm's order: pattern by pattern, each
 * pattern's matches sorted.
 */
async function workspaceFolders(
  projectRoot: string,
  manifestPath: string,
  manifest: Record<string, any>,
): Promise<string[]> {
  if (manifest.workspaces === undefined) return [];
  // npm's own reader (CommonJS, without types), loaded only when a build reads a project.
  const mapWorkspaces = createRequire(import.meta.url)('@npmcli/map-workspaces') as MapWorkspaces;
  let found: Map<string, string>;
  try {
    found = await mapWorkspaces({ cwd: projectRoot, pkg: manifest });
  } catch (err) {
    throw errors.unreadableConfig(manifestPath, `its workspaces: ${messageOf(err)}`);
  }
  const folders = [...new Set([...found.values()].map((folder) => resolve(projectRoot, folder)))];
  for (const folder of folders) {
    if (inProject(projectRoot, folder) === undefined)
      throw errors.unreadableConfig(manifestPath, `its workspace ${folder} is outside the project root ${projectRoot}`);
  }
  return folders.filter((folder) => folder !== resolve(projectRoot));
}

/** The compiler options that decide the output, as `tsc` reads them: `extends` followed, paths resolved. */
interface EmitOptions {
  readonly outDir?: string;
  readonly rootDir?: string;
  readonly noEmit?: boolean;
}

type ParseTsconfig = typeof import('get-tsconfig').parseTsconfig;

function readTsconfig(parseTsconfig: ParseTsconfig, file: string, cache: Map<string, any>): EmitOptions {
  let options: unknown;
  try {
    // Read once here for the system's own message (a missing file, no permission).
    readFileSync(file);
    options = parseTsconfig(file, cache).compilerOptions ?? {};
  } catch (err) {
    const missing = /^File '(.*)' not found\.$/.exec(messageOf(err));
    // get-tsconfig trips over a path setting that is no string (in this config or one it extends).
    const reason = missing
      ? `its extends "${missing[1]}" cannot be resolved`
      : err instanceof TypeError
        ? `a setting has a value of the wrong type: ${err.message}`
        : messageOf(err);
    throw errors.unreadableConfig(file, reason);
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw errors.unreadableConfig(file, 'compilerOptions must be an object');
  const { outDir, rootDir, noEmit } = options as Record<string, unknown>;
  const wrong = (name: string, type: string) =>
    errors.unreadableConfig(file, `compilerOptions.${name} must be a ${type}`);
  if (outDir !== undefined && typeof outDir !== 'string') throw wrong('outDir', 'string');
  if (rootDir !== undefined && typeof rootDir !== 'string') throw wrong('rootDir', 'string');
  if (noEmit !== undefined && typeof noEmit !== 'boolean') throw wrong('noEmit', 'boolean');
  // Relative to the tsconfig, also when an extended config sets them (get-tsconfig rewrites them so).
  const folder = dirname(file);
  return {
    outDir: outDir === undefined ? undefined : resolve(folder, outDir),
    rootDir: rootDir === undefined ? undefined : resolve(folder, rootDir),
    noEmit,
  };
}

const jsExtension: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs', '.tsx': '.js' };

function compiledName(file: string): string {
  const match = /\.(?:ts|mts|cts|tsx)$/.exec(file);
  return match ? file.slice(0, match.index) + jsExtension[match[0]] : file;
}

/** Reads the project around `paths` for the Dockerfile. */
export async function readProjectLayout(paths: AppPaths): Promise<ProjectLayout> {
  const { projectRoot, appDir, entry } = paths;
  const entryRel = inProject(projectRoot, entry);
  if (entryRel === undefined) throw errors.entryOutsideProject(entry, projectRoot);
  // The compose file and the values are still right without these; only the image build needs them.
  const warnings: string[] = [];
  const rootManifest = join(projectRoot, 'package.json');
  const hasManifest = existsSync(rootManifest);
  if (!hasManifest)
    warnings.push(
      `${projectRoot} has no package.json: the image installs the app from it. Build from an npm project, or set INFRA_PROJECT_ROOT to its folder`,
    );
  const hasLockFile = existsSync(join(projectRoot, 'package-lock.json'));
  if (hasManifest && !hasLockFile)
    warnings.push(
      `${projectRoot} has no package-lock.json: the image's \`npm ci\` needs one. Run \`npm install\` there`,
    );

  const workspaces = hasManifest ? await workspaceFolders(projectRoot, rootManifest, readJson(rootManifest)) : [];
  const packageFolders = [projectRoot, ...workspaces];
  const packageFiles = packageFolders.map((f) => inProject(projectRoot, join(f, 'package.json'))!);

  const { parseTsconfig } = await import('get-tsconfig');
  const cache = new Map<string, any>();
  const compile: TypeScriptProject[] = [];
  let appOutput: { rootDir: string; outDir: string } | undefined;
  for (const folder of packageFolders) {
    const tsconfigPath = join(folder, 'tsconfig.json');
    // The root's tsconfig of a workspace project only type-checks; its packages compile themselves.
    if (!existsSync(tsconfigPath) || (folder === projectRoot && workspaces.length > 0)) continue;
    const options = readTsconfig(parseTsconfig, tsconfigPath, cache);
    const isApp = resolve(folder) === resolve(appDir);
    if (options.outDir === undefined || options.noEmit === true) {
      if (isApp)
        throw errors.unreadableConfig(
          tsconfigPath,
          'it sets no compilerOptions.outDir, so there is no compiled JavaScript for the image to run',
        );
      continue;
    }
    const outDir = inProject(projectRoot, options.outDir);
    if (outDir === undefined)
      throw errors.unreadableConfig(
        tsconfigPath,
        `its outDir ${options.outDir} is outside the project root ${projectRoot}, so the image cannot take it`,
      );
    compile.push({ tsconfig: inProject(projectRoot, tsconfigPath)!, outDir });
    if (isApp) appOutput = { rootDir: options.rootDir ?? resolve(folder), outDir: options.outDir };
  }

  if (appOutput) {
    const inRoot = relative(appOutput.rootDir, entry);
    if (inRoot.startsWith('..')) {
      throw errors.unreadableConfig(
        join(appDir, 'tsconfig.json'),
        `the entry module ${entry} is outside its rootDir ${appOutput.rootDir}`,
      );
    }
    const compiledEntry = inProject(projectRoot, join(appOutput.outDir, compiledName(inRoot)))!;
    return {
      packageFiles,
      hasLockFile,
      compile,
      outputs: compile.map((c) => c.outDir),
      command: ['node', compiledEntry],
      warnings,
    };
  }
  // No TypeScript project for the app: the image runs its source through Node's type stripping.
  warnings.push(`${appDir} has no tsconfig.json with an outDir: the image runs ${entryRel} as TypeScript source`);
  const entryFolder = inProject(projectRoot, dirname(entry))!;
  return {
    packageFiles,
    hasLockFile,
    compile,
    outputs: [...compile.map((c) => c.outDir), entryFolder === '.' ? entryRel : entryFolder],
    command: ['node', entryRel],
    warnings,
  };
}
