/**
 * How the app image installs its packages, read from package-lock.json (the image installs from
 * it, whatever this machine's node_modules hold):
 * - without infra-generator's optional dependencies (what only the build and the local runner
 *   use), unless the app's own production packages need optional platform binaries;
 * - with infra-generator as its bundle (runtime-bundle.ts) and without the packages that only
 *   the bundle needed, which it holds: they are deleted after `npm ci`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { inProject } from '../../private/project-path.ts';

/** How the final image installs its dependencies. */
export interface ImageInstall {
  /** `npm ci --omit=optional`: leave infra-generator's build-only packages (and every other optional package) out. */
  readonly omitOptional: boolean;
  /** Where npm installs infra-generator for the app, and what the image deletes once it is bundled. */
  readonly runtime?: RuntimeInstall;
  readonly warnings: readonly string[];
}

export interface RuntimeInstall {
  /** The package's folder, relative to the project root (`node_modules/infra-generator`, or a workspace's). */
  readonly folder: string;
  /**
   * Folders, relative to the project root, of the packages infra-generator uses that the image
   * keeps for the app anyway: its bundle imports them from there rather than holding a copy of
   * its own, so the app and the runtime share one (TypeBox's format registry, say). Each is
   * where infra-generator's own folder finds its name, as the bundle inside it will.
   */
  readonly shared: readonly string[];
  /**
   * Folders, relative to the project root, of the packages the image installs that only
   * infra-generator needs, which its bundle holds: none of the app's packages reaches them.
   */
  readonly bundledOnly: readonly string[];
}

interface LockEntry {
  name?: string;
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  os?: string[];
  cpu?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * The lock file's key of the package `name` as the package at key `from` finds it (Node's
 * node_modules lookup), links followed.
 */
function lockResolve(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let dir = from; ;) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    const entry = packages[key];
    if (entry) return entry.link && typeof entry.resolved === 'string' ? entry.resolved : key;
    if (dir === '') return undefined;
    const parent = dir.lastIndexOf('/node_modules/');
    dir = parent < 0 ? '' : dir.slice(0, parent);
  }
}

const isRuntimePackage = (key: string, entry: LockEntry) =>
  entry.name === 'infra-generator' || (!entry.link && /(?:^|\/)node_modules\/infra-generator$/.test(key));

/** Lock file entries by key (a folder relative to the project root). */
type LockPackages = Record<string, LockEntry>;

/** The packages `entry` needs at run time: its dependencies, required peers, and optional ones if asked. */
function runTimeNeeds(entry: LockEntry, optional: boolean): string[] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter(
    (name) => !entry.peerDependenciesMeta?.[name]?.optional,
  );
  return [
    ...Object.keys(entry.dependencies ?? {}),
    ...(optional ? Object.keys(entry.optionalDependencies ?? {}) : []),
    ...peers,
  ];
}

/** The keys reached from `starts`, `needs` naming what each package needs. */
function reach(packages: LockPackages, starts: Iterable<string>, needs: (key: string, entry: LockEntry) => string[]) {
  const reached = new Set<string>(starts);
  const queue = [...reached];
  for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
    for (const name of needs(key, packages[key] ?? {})) {
      const found = lockResolve(packages, key, name);
      if (found !== undefined && !reached.has(found)) {
        reached.add(found);
        queue.push(found);
      }
    }
  }
  return reached;
}

/** The project's own packages: the root's and its workspaces' (the keys outside node_modules). */
const projectKeys = (packages: LockPackages) => Object.keys(packages).filter((key) => !isPackage(key));

/** Whether a lock file key is an installed package's folder (not the project's or a workspace's). */
const isPackage = (key: string) => /(?:^|\/)node_modules\//.test(key);

/** The package name of an installed package's key: `@scope/name` of `node_modules/x/node_modules/@scope/name`. */
const nameOf = (key: string) => key.replace(/^.*node_modules\//, '');

/**
 * The key of infra-generator as the app finds it: the `node_modules/infra-generator` nearest
 * above the app's folder (Node's lookup), or the workspace folder that entry links to.
 */
function runtimeKey(packages: LockPackages, appFolder: string): string | undefined {
  for (let folder = appFolder; ; folder = posix.dirname(folder)) {
    const key = folder === '.' ? 'node_modules/infra-generator' : `${folder}/node_modules/infra-generator`;
    const entry = packages[key];
    if (entry !== undefined) return entry.link && typeof entry.resolved === 'string' ? entry.resolved : key;
    if (folder === '.') return undefined;
  }
}

/**
 * Whether the final image can leave optional packages out: yes, unless a package that the app's
 * production dependencies reach (not through infra-generator's optional dependencies) is an
 * optional one for Linux with an `os` or `cpu` field, i.e. a native binary a service may load.
 * Then the image keeps every optional package, and the build says which ones made it so.
 *
 * And where infra-generator is, for its bundle, with the packages only it reaches: those the
 * image installs, less those the app's packages reach without going through infra-generator's
 * (bundled) dependencies. An app that imports a package it does not declare, which only
 * infra-generator brought, would not find it in the image: declare it.
 */
export function imageInstall(projectRoot: string, appDir: string = projectRoot): ImageInstall {
  const lockPath = join(projectRoot, 'package-lock.json');
  let packages: LockPackages;
  try {
    packages = existsSync(lockPath) ? (JSON.parse(readFileSync(lockPath, 'utf8')).packages ?? {}) : {};
  } catch {
    packages = {}; // `npm ci` in the image says what is wrong with it
  }
  // Everything the project's packages and workspaces reach at run time, except through infra-
  // generator's optional dependencies.
  const project = projectKeys(packages);
  const reached = reach(packages, project, (key, entry) => runTimeNeeds(entry, !isRuntimePackage(key, entry)));
  const forLinux = (os: string[] | undefined) =>
    !os || os.includes('linux') || (os.every((o) => o.startsWith('!')) && !os.includes('!linux'));
  const native = [...reached]
    .filter((key) => {
      const entry = packages[key] ?? {};
      return (entry.optional || entry.devOptional) && !entry.dev && (entry.os || entry.cpu) && forLinux(entry.os);
    })
    .map(nameOf);
  const omitOptional = native.length === 0;
  const warnings = omitOptional
    ? []
    : [
        `The app's dependencies include optional platform packages (${[...new Set(native)].sort().join(', ')}), so the image keeps every optional package` +
          ` (but infra-generator's build-only ones, when it runs bundled)`,
      ];
  const appFolder = inProject(projectRoot, appDir);
  const runtime = appFolder === undefined ? undefined : runtimeKey(packages, appFolder);
  if (runtime === undefined) return { omitOptional, warnings };

  // What `npm ci` installs in the final image, and what the app reaches without infra-generator's
  // dependencies: its bundle holds those, and no persona loads its optional ones (the build's).
  // Without optional packages that is what `reached` holds; with them, the runtime's too.
  const installed = omitOptional ? reached : reach(packages, project, (_key, entry) => runTimeNeeds(entry, true));
  const kept = reach(packages, project, (key, entry) => (key === runtime ? [] : runTimeNeeds(entry, true)));
  const bundledOnly = [...installed]
    .filter((key) => !kept.has(key) && key !== runtime && isPackage(key))
    .sort()
    // A package inside one that goes goes with it.
    .filter((key, i, keys) => !keys.slice(0, i).some((outer) => key.startsWith(`${outer}/`)));
  const shared = [...reach(packages, [runtime], (_key, entry) => runTimeNeeds(entry, false))]
    .filter(
      (key) =>
        key !== runtime && kept.has(key) && isPackage(key) && lockResolve(packages, runtime, nameOf(key)) === key,
    )
    .sort();
  return { omitOptional, runtime: { folder: runtime, shared, bundledOnly }, warnings };
}
