/**
 * What the generator knows about the app it writes into: where its files are, the manifest of
 * the components it made before (components.json, the registry's source), and how main.ts
 * wires the registry in (the ID the components get).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errors } from './errors.ts';
import { isKind, kebabCase, type Kind } from './names.ts';

export interface ComponentEntry {
  kind: Kind;
  name: string;
  /** The components it uses, by name: stores and APIs listed before it. */
  uses: string[];
}

export interface Manifest {
  components: ComponentEntry[];
}

export interface AppState {
  /** The app's package folder, e.g. starter/. */
  appDir: string;
  componentsDir: string;
  manifestPath: string;
  registryPath: string;
  mainPath: string;
  manifest: Manifest;
  /** The files as read, to write nothing over a change made meanwhile (undefined: absent). */
  manifestText: string | undefined;
  registryText: string | undefined;
  /** The ID parts the components are created under, e.g. ['my-app', 'components']. */
  scope: string[];
  /** Whether main.ts calls createComponents(), so the app includes what is registered. */
  wired: boolean;
}

export const MANIFEST_FILE = 'components.json';
export const REGISTRY_FILE = 'index.ts';

const manifestComment =
  'The components `npx plop component` made, in creation order; index.ts is generated from this file. ' +
  'To remove one, delete its two files and its entry here (and from the uses of others), then run `npx plop registry`.';

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Reads the app in `appDir`; throws a GeneratorError naming the file when the manifest is broken. */
export function readAppState(appDir: string): AppState {
  const componentsDir = join(appDir, 'src', 'components');
  const manifestPath = join(componentsDir, MANIFEST_FILE);
  const registryPath = join(componentsDir, REGISTRY_FILE);
  const mainPath = join(appDir, 'src', 'main.ts');
  const manifestText = readIfExists(manifestPath);
  const main = readIfExists(mainPath) ?? '';
  const root = /rootId\(\s*(['"`])([^'"`$]+)\1\s*\)/.exec(main)?.[2] ?? 'my-app';
  const call = /createComponents\(\s*[A-Za-z_$][\w$]*\s*(?:`([^`$]+)`|\(\s*(['"])([^'"]+)\2\s*\))/.exec(main);
  return {
    appDir,
    componentsDir,
    manifestPath,
    registryPath,
    mainPath,
    manifest: manifestText === undefined ? { components: [] } : parseManifest(manifestText, relative(process.cwd(), manifestPath) || manifestPath),
    manifestText,
    registryText: readIfExists(registryPath),
    scope: [root, call?.[1] ?? call?.[3] ?? 'components'],
    wired: call !== null,
  };
}

/** Parses and checks components.json: known kinds, kebab-case names, each used name listed earlier as a store or an API. */
export function parseManifest(text: string, path: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw errors.manifest(path, `not valid JSON (${(err as Error).message})`);
  }
  const list = (data as { components?: unknown } | null)?.components;
  if (!Array.isArray(list)) throw errors.manifest(path, 'expected an object with a "components" array');
  const seen = new Map<string, Kind>();
  const components = list.map((entry: unknown, i): ComponentEntry => {
    const at = `components[${i}]`;
    const { kind, name, uses = [] } = (entry ?? {}) as { kind?: unknown; name?: unknown; uses?: unknown };
    if (!isKind(kind)) throw errors.manifest(path, `${at}.kind is ${JSON.stringify(kind)}; it must be store, api, task or worker`);
    if (typeof name !== 'string' || !kebabCase.test(name)) throw errors.manifest(path, `${at}.name is ${JSON.stringify(name)}; it must be a kebab-case name`);
    if (seen.has(name)) throw errors.manifest(path, `${at}: ${name} is listed twice`);
    if (!Array.isArray(uses) || uses.some((u) => typeof u !== 'string')) throw errors.manifest(path, `${at}.uses must be an array of component names`);
    for (const used of uses as string[]) {
      const usedKind = seen.get(used);
      if (usedKind !== 'store' && usedKind !== 'api') {
        throw errors.manifest(path, `${at} (${name}) uses ${JSON.stringify(used)}, which is not a store or an API listed before it`);
      }
    }
    seen.set(name, kind);
    return { kind, name, uses: [...(uses as string[])] };
  });
  return { components };
}

export function renderManifest(manifest: Manifest): string {
  return JSON.stringify({ $comment: manifestComment, components: manifest.components }, null, 2) + '\n';
}
