/**
 * What the generator knows about the app it writes into: where its files are, the manifest of
 * the components it made before and of those the app provides them (components.json, the
 * registry's source), and how main.ts wires the registry in (the ID the components get).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errors } from './errors.ts';
import { isKind, kebabCase, kinds, type Kind } from './names.ts';

export interface ComponentEntry {
  kind: Kind;
  name: string;
  /** The components it uses, by name: stores and APIs listed before it. */
  uses: string[];
}

/**
 * A component the app makes itself (the customer server, in main.ts) and gives
 * createComponents(), so that generated components may use it like one of their own.
 */
export interface ProvidedEntry {
  /** Only APIs: a store belongs to its owner's subtree, which the generated components are not in. */
  kind: 'api';
  name: string;
  /** Its module, from the components folder (`../customer-server.ts`): it exports create<Name> and the type <Name>. */
  module: string;
  /** The client functions the generated examples call: `put` saves an `{ id, name }` record, `get` reads one by id. */
  example: { put: string; get: string };
}

export interface Manifest {
  provided: ProvidedEntry[];
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
  /** Whether that call passes a second argument (what the manifest's `provided` lists). */
  passesProvided: boolean;
}

const identifier = /^[A-Za-z_$][\w$]*$/;

export const MANIFEST_FILE = 'components.json';
export const REGISTRY_FILE = 'index.ts';

const manifestComment =
  'The components `npx plop component` made, in creation order; index.ts is generated from this file. ' +
  'To remove one, delete its two files and its entry here (and from the uses of others), then run `npx plop registry`. ' +
  '"provided" lists the APIs main.ts makes itself and gives createComponents(), which generated components may use: ' +
  'each module (from this folder) exports create<Name> and the type <Name>; "example" names the two client functions ' +
  'the generated examples call to save and to read an { id, name } record.';

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
  const call = /createComponents\(\s*[A-Za-z_$][\w$]*\s*(?:`([^`$]+)`|\(\s*(['"])([^'"]+)\2\s*\))\s*(,\s*[^\s)])?/.exec(
    main,
  );
  return {
    appDir,
    componentsDir,
    manifestPath,
    registryPath,
    mainPath,
    manifest:
      manifestText === undefined
        ? { provided: [], components: [] }
        : parseManifest(manifestText, relative(process.cwd(), manifestPath) || manifestPath),
    manifestText,
    registryText: readIfExists(registryPath),
    scope: [root, call?.[1] ?? call?.[3] ?? 'components'],
    wired: call !== null,
    passesProvided: call?.[4] !== undefined,
  };
}

/**
 * Parses and checks components.json: known kinds, kebab-case names, each used name provided or
 * listed earlier as a store or an API, each provided entry an API with a module and its example calls.
 */
export function parseManifest(text: string, path: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw errors.manifest(path, `not valid JSON (${(err as Error).message})`);
  }
  const { components: list, provided: givenList = [] } = (data ?? {}) as { components?: unknown; provided?: unknown };
  if (!Array.isArray(list)) throw errors.manifest(path, 'expected an object with a "components" array');
  if (!Array.isArray(givenList)) throw errors.manifest(path, '"provided" must be an array');
  const seen = new Map<string, Kind>();
  const provided = givenList.map((entry: unknown, i): ProvidedEntry => {
    const at = `provided[${i}]`;
    const { kind, name, module, example } = (entry ?? {}) as {
      kind?: unknown;
      name?: unknown;
      module?: unknown;
      example?: { put?: unknown; get?: unknown };
    };
    if (typeof name !== 'string' || !kebabCase.test(name))
      throw errors.manifest(path, `${at}.name is ${JSON.stringify(name)}; it must be a kebab-case name`);
    if (kind !== 'api') {
      throw errors.manifest(
        path,
        `${at}.kind is ${JSON.stringify(kind)}; only an API can be provided (a store belongs to its owner's subtree: provide an API in front of it)`,
      );
    }
    if (seen.has(name)) throw errors.manifest(path, `${at}: ${name} is listed twice`);
    if (typeof module !== 'string' || !/^\.\.?\/.*\.ts$/.test(module)) {
      throw errors.manifest(
        path,
        `${at}.module is ${JSON.stringify(module)}; it must be the path of a .ts module from the components folder, e.g. "../${name}.ts"`,
      );
    }
    const { put, get } = example ?? {};
    if (![put, get].every((fn) => typeof fn === 'string' && identifier.test(fn))) {
      throw errors.manifest(
        path,
        `${at}.example must name two of its client functions, e.g. { "put": "postCustomer", "get": "getCustomer" }`,
      );
    }
    seen.set(name, kind);
    return { kind, name, module, example: { put: put as string, get: get as string } };
  });
  const components = list.map((entry: unknown, i): ComponentEntry => {
    const at = `components[${i}]`;
    const { kind, name, uses = [] } = (entry ?? {}) as { kind?: unknown; name?: unknown; uses?: unknown };
    if (!isKind(kind))
      throw errors.manifest(path, `${at}.kind is ${JSON.stringify(kind)}; it must be one of ${kinds.join(', ')}`);
    if (typeof name !== 'string' || !kebabCase.test(name))
      throw errors.manifest(path, `${at}.name is ${JSON.stringify(name)}; it must be a kebab-case name`);
    if (seen.has(name)) throw errors.manifest(path, `${at}: ${name} is listed twice`);
    if (!Array.isArray(uses) || uses.some((u) => typeof u !== 'string'))
      throw errors.manifest(path, `${at}.uses must be an array of component names`);
    for (const used of uses as string[]) {
      const usedKind = seen.get(used);
      if (usedKind !== 'store' && usedKind !== 'api') {
        throw errors.manifest(
          path,
          `${at} (${name}) uses ${JSON.stringify(used)}, which is not provided, nor a store or an API listed before it`,
        );
      }
    }
    seen.set(name, kind);
    return { kind, name, uses: [...(uses as string[])] };
  });
  return { provided, components };
}

export function renderManifest(manifest: Manifest): string {
  return (
    JSON.stringify(
      { $comment: manifestComment, provided: manifest.provided, components: manifest.components },
      null,
      2,
    ) + '\n'
  );
}
