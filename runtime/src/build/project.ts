/**
 * What the Dockerfile needs to know about the npm project: the package.json files `npm ci`
 * reads (the root's and each workspace's), the TypeScript projects to compile and where they
 * emit, and the compiled entry module the image runs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { AppPaths } from '../paths.ts';
import { errors } from '../errors.ts';
import { inProject } from './project-path.ts';

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

/** JSON with comments and trailing commas, as tsconfig.json allows. */
export function parseJsonc(text: string): unknown {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else {
      out += c;
    }
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

function readJson(file: string, jsonc = false): Record<string, any> {
  try {
    const text = readFileSync(file, 'utf8');
    const value = jsonc ? parseJsonc(text) : JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, any>;
  } catch (err) {
    throw errors.unreadableConfig(file, err instanceof Error ? err.message : String(err));
  }
}

/** The workspace folders of the root package.json (`"dir"` and `"dir/*"` patterns), in order. */
function workspaceFolders(projectRoot: string, manifest: Record<string, any>): string[] {
  const patterns: unknown = Array.isArray(manifest.workspaces) ? manifest.workspaces : manifest.workspaces?.packages;
  if (!Array.isArray(patterns)) return [];
  const folders: string[] = [];
  for (const pattern of patterns) {
    if (typeof pattern !== 'string') continue;
    if (pattern.endsWith('/*')) {
      const parent = join(projectRoot, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (entry.isDirectory()) folders.push(join(parent, entry.name));
      }
    } else {
      folders.push(join(projectRoot, pattern));
    }
  }
  return folders.filter((f) => existsSync(join(f, 'package.json')));
}

const jsExtension: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs', '.tsx': '.js' };

function compiledName(file: string): string {
  const match = /\.(?:ts|mts|cts|tsx)$/.exec(file);
  return match ? file.slice(0, match.index) + jsExtension[match[0]] : file;
}

/** Reads the project around `paths` for the Dockerfile. */
export function readProjectLayout(paths: AppPaths): ProjectLayout {
  const { projectRoot, appDir, entry } = paths;
  const entryRel = inProject(projectRoot, entry);
  if (entryRel === undefined) throw errors.entryOutsideProject(entry, projectRoot);
  // The compose file and the values are still right without these; only the image build needs them.
  const warnings: string[] = [];
  const rootManifest = join(projectRoot, 'package.json');
  const hasManifest = existsSync(rootManifest);
  if (!hasManifest) warnings.push(`${projectRoot} has no package.json: the image installs the app from it. Build from an npm project, or set INFRA_PROJECT_ROOT to its folder`);
  const hasLockFile = existsSync(join(projectRoot, 'package-lock.json'));
  if (hasManifest && !hasLockFile) warnings.push(`${projectRoot} has no package-lock.json: the image's \`npm ci\` needs one. Run \`npm install\` there`);

  const workspaces = hasManifest ? workspaceFolders(projectRoot, readJson(rootManifest)) : [];
  const packageFolders = [projectRoot, ...workspaces];
  const packageFiles = packageFolders.map((f) => inProject(projectRoot, join(f, 'package.json'))!);

  const compile: TypeScriptProject[] = [];
  let appOutput: { rootDir: string; outDir: string } | undefined;
  for (const folder of packageFolders) {
    const tsconfigPath = join(folder, 'tsconfig.json');
    // The root's tsconfig of a workspace project only type-checks; its packages compile themselves.
    if (!existsSync(tsconfigPath) || (folder === projectRoot && workspaces.length > 0)) continue;
    const options = readJson(tsconfigPath, true).compilerOptions ?? {};
    if (typeof options.outDir !== 'string' || options.noEmit === true) {
      if (resolve(folder) === resolve(appDir)) {
        throw errors.unreadableConfig(tsconfigPath, 'it sets no compilerOptions.outDir, so there is no compiled JavaScript for the image to run');
      }
      continue;
    }
    const outDir = resolve(folder, options.outDir);
    compile.push({ tsconfig: inProject(projectRoot, tsconfigPath)!, outDir: inProject(projectRoot, outDir)! });
    if (resolve(folder) === resolve(appDir)) appOutput = { rootDir: resolve(folder, typeof options.rootDir === 'string' ? options.rootDir : '.'), outDir };
  }

  if (appOutput) {
    const inRoot = relative(appOutput.rootDir, entry);
    if (inRoot.startsWith('..')) {
      throw errors.unreadableConfig(join(appDir, 'tsconfig.json'), `the entry module ${entry} is outside its rootDir ${appOutput.rootDir}`);
    }
    const compiledEntry = inProject(projectRoot, join(appOutput.outDir, compiledName(inRoot)))!;
    return { packageFiles, hasLockFile, compile, outputs: compile.map((c) => c.outDir), command: ['node', compiledEntry], warnings };
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
