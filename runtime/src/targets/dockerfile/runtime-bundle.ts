/**
 * The runtime bundled for the app image: infra-generator and the packages it loads, as a few ES
 * modules made by esbuild, which the image's build stage writes into the package's `bundle/`
 * folder; the final stage makes it the package's main module (dockerfile.ts).
 *
 * Why: a persona started from node_modules resolves, reads and compiles some 450 files (Fastify,
 * pino, undici, slonik, OpenTelemetry's API and ours), which made its first answer take 1.5 times
 * as long as a bare Fastify script's; from the bundle it is on a par with it (`npm run bench --
 * cold-start`). Only `infra-generator` is bundled: the app's own modules and its other packages
 * load as they always do, so nothing changes for the app's code (its `import.meta.url`, its native
 * packages). What the bundle leaves out stays an ordinary import, resolved from node_modules at
 * run time:
 * - infra-generator's optional dependencies (the build's and the local runner's, absent from the
 *   image, so those personas still say which package they miss);
 * - the packages it shares with the app (image-install.ts's `shared`, the command's arguments):
 *   one copy for both, so what the app sets up in one (a TypeBox format) the runtime sees;
 * - a package this install lacks (pg-native, which pg only tries), which fails as it would
 *   unbundled; one that is installed but that esbuild cannot resolve stops the bundle instead.
 *
 * Run by the Dockerfile as `node <package>/dist/targets/dockerfile/runtime-bundle.js [shared…]`
 * from the project root; esbuild is an optional dependency, installed in the build stage and not
 * in the final image.
 */
import { existsSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../../core/errors.ts';

/**
 * The export condition that makes `import 'infra-generator'` load the bundle where the package's
 * own modules are too (runtime/package.json): the bench and the tests run either from one folder.
 */
export const BUNDLE_CONDITION = 'infra-generator-bundle';
/** The bundle's folder in the package. */
export const BUNDLE_FOLDER = 'bundle';
/**
 * The bundle's entry module, in the package. Every file of the bundle is two folders below the
 * package, as every module of src/ and dist/ is at least: a module that reads a file of the
 * package by a path relative to its own (optional-dependencies.ts reads `../../package.json`)
 * still finds it from the bundle.
 */
export const BUNDLE_ENTRY = `${BUNDLE_FOLDER}/entry/index.js`;

/** This package's folder: this module is three folders below it, in src/ and in dist/. */
const ownPackage = fileURLToPath(new URL('../../../', import.meta.url));

export interface BundleOptions {
  /** The installed infra-generator package (default: the one this module belongs to). */
  readonly packageDir?: string;
  /** Its main module, relative to it (default `dist/index.js`, the compiled one). */
  readonly entry?: string;
  /** Where the bundle goes (default: the package's BUNDLE_FOLDER). */
  readonly folder?: string;
  /** Folders of packages the bundle imports rather than holds (absolute): those it shares with the app. */
  readonly shared?: readonly string[];
}

export interface BundleResult {
  readonly folder: string;
  readonly files: number;
  readonly bytes: number;
  /** What the bundle still imports from outside itself: Node's modules and the packages it left out. */
  readonly imports: readonly string[];
}

/**
 * In an ES module, esbuild's stand-in for CommonJS `require` (for the `require('node:fs')` of a
 * bundled CommonJS package) throws unless a `require` is in scope: one per file.
 */
const REQUIRE_IN_SCOPE =
  "import { createRequire as __infraCreateRequire } from 'node:module'; const require = __infraCreateRequire(import.meta.url);";

export async function bundleRuntime(options: BundleOptions = {}): Promise<BundleResult> {
  const packageDir = options.packageDir ?? ownPackage;
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    optionalDependencies?: Record<string, string>;
  };
  const optional = manifest.optionalDependencies ?? {};
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || optional.esbuild === undefined) throw err;
    throw errors.optionalDependencyMissing("The image's runtime bundle", 'esbuild', optional.esbuild, err);
  }
  const folder = options.folder ?? join(packageDir, BUNDLE_FOLDER);
  // Written aside, then put in place: a failed bundle leaves no half of one to be loaded.
  const writing = `${folder}.${process.pid}.tmp`;
  rmSync(writing, { recursive: true, force: true });
  // As esbuild gives resolved paths: links followed.
  const shared = (options.shared ?? []).map((dir) => realpathSync(dir) + sep);
  const packageImports: import('esbuild').Plugin = {
    name: 'shared-and-missing-packages-stay-imports',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving') return undefined;
        const found = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: 'resolving',
        });
        if (found.errors.length === 0)
          return shared.some((dir) => found.path.startsWith(dir)) ? { path: args.path, external: true } : found;
        if (isInstalled(args.path, args.resolveDir)) throw errors.bundleUnresolved(args.path, args.importer);
        return { path: args.path, external: true };
      });
    },
  };
  let result: import('esbuild').BuildResult<{ metafile: true }>;
  try {
    result = await esbuild.build({
      absWorkingDir: packageDir,
      entryPoints: { index: join(packageDir, options.entry ?? 'dist/index.js') },
      outdir: writing,
      entryNames: 'entry/[name]',
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      // The runtime loads what a persona does not always need (a mode, the Postgres driver, the
      // OpenTelemetry SDK) with import(): split, those stay separate files, loaded when asked for.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      external: Object.keys(optional),
      plugins: [packageImports],
      banner: { js: REQUIRE_IN_SCOPE },
      // Names, lines and the comment naming each bundled file kept, so a stack trace still reads.
      minifySyntax: true,
      metafile: true,
      logLevel: 'warning',
    });
    rmSync(folder, { recursive: true, force: true });
    renameSync(writing, folder);
  } finally {
    if (existsSync(writing)) rmSync(writing, { recursive: true, force: true });
  }
  const outputs = Object.values(result.metafile.outputs);
  const imports = new Set(outputs.flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path)));
  return {
    folder,
    files: outputs.length,
    bytes: outputs.reduce((sum, output) => sum + output.bytes, 0),
    imports: [...imports].sort(),
  };
}

/** Whether package `specifier` is in a node_modules folder at or above `dir`, as Node would look. */
function isInstalled(specifier: string, dir: string): boolean {
  const name = specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/');
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules', name, 'package.json'))) return true;
    if (dirname(at) === at) return false;
  }
}

// Run as a script (import.meta.main needs Node 24.2; the engines field says 24).
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const { folder, files, bytes } = await bundleRuntime({ shared: process.argv.slice(2) });
  console.log(
    `Bundled infra-generator for the image into ${folder}: ${files} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, in ${Date.now() - started} ms`,
  );
}
