/**
 * What the templates see: every name a template prints, computed here once, so the
 * templates hold code and the choices about names live in one place.
 */
import { camelCase, pascalCase, type Kind } from './names.ts';
import type { ComponentEntry, Manifest, ProvidedEntry } from './app-state.ts';

/** A component as the templates print it. */
export interface ComponentView {
  kind: Kind;
  name: string;
  camel: string;
  pascal: string;
  createName: string;
  /** The interface its create function returns. */
  typeName: string;
  /** The type of what a store keeps or an API serves (stores and APIs only). */
  recordType: string | undefined;
  isStore: boolean;
  isApi: boolean;
  /** Where generated code imports it from: `./orders.ts`, `../customer-server.ts`. */
  module: string;
  /** Whether its create function takes the components it uses (stores and provided APIs take only an ID). */
  takesDeps: boolean;
  /** The client functions the examples call to save an `{ id, name }` record and to read one (stores and APIs). */
  putFn: string;
  getFn: string;
  /** Its uses, as views. */
  deps: ComponentView[];
  /** `{ orders, ordersApi }`: what its create function is given (its uses, by camelCase name). */
  depsArg: string;
}

export interface ModuleData extends ComponentView {
  /** The APIs it calls, for the `uses` option: `deps.ordersApi, deps.mailApi`. */
  apiUses: string;
  /** The store an API keeps its items in, or the store a worker works through: its first store. */
  primary: ComponentView | undefined;
  /** The other components it passes each item on to. */
  others: ComponentView[];
  /** Every component a test must create first (its uses and theirs), in creation order. */
  setup: ComponentView[];
  /** The module's type imports from the components it uses: `OrdersStore` from `./orders.ts`. */
  typeImports: { module: string; names: string }[];
}

/** The names every component derives from its own, provided or generated. */
function namesOf(name: string) {
  const pascal = pascalCase(name);
  return { name, camel: camelCase(name), pascal, createName: `create${pascal}` };
}

/** A provided API as the templates print it: created by main.ts, imported from its own module. */
function providedView(entry: ProvidedEntry): ComponentView {
  const names = namesOf(entry.name);
  return {
    kind: entry.kind,
    ...names,
    typeName: names.pascal,
    recordType: undefined,
    isStore: false,
    isApi: true,
    module: entry.module,
    takesDeps: false,
    putFn: entry.example.put,
    getFn: entry.example.get,
    deps: [],
    depsArg: '{}',
  };
}

/** The component of that name: provided by the app, or generated. */
function find(name: string, manifest: Manifest): ComponentEntry | ProvidedEntry | undefined {
  return manifest.provided.find((p) => p.name === name) ?? manifest.components.find((c) => c.name === name);
}

export function view(entry: ComponentEntry, manifest: Manifest): ComponentView {
  const pascal = pascalCase(entry.name);
  const typeNames: Record<Kind, string> = {
    store: `${pascal}Store`,
    api: pascal,
    task: 'DeployTask',
    worker: 'Worker',
    topic: pascal,
    cron: 'Cron',
  };
  const recordTypes: Record<Kind, string | undefined> = {
    store: `${pascal}Record`,
    api: `${pascal}Item`,
    task: undefined,
    worker: undefined,
    topic: `${pascal}Message`,
    cron: undefined,
  };
  const deps = entry.uses.map((name) => {
    const dep = find(name, manifest);
    if (!dep) throw new Error(`${entry.name} uses ${name}, which is not in the manifest`);
    return 'module' in dep ? providedView(dep) : view(dep, manifest);
  });
  return {
    kind: entry.kind,
    ...namesOf(entry.name),
    typeName: typeNames[entry.kind],
    recordType: recordTypes[entry.kind],
    isStore: entry.kind === 'store',
    isApi: entry.kind === 'api',
    module: `./${entry.name}.ts`,
    takesDeps: entry.kind !== 'store',
    putFn: 'put',
    getFn: 'get',
    deps,
    depsArg: deps.length ? `{ ${deps.map((d) => d.camel).join(', ')} }` : '{}',
  };
}

/** Everything `entry` needs to exist first, in creation order: the provided APIs, then the manifest's. */
function closure(entry: ComponentEntry, manifest: Manifest): ComponentView[] {
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    const dep = find(name, manifest);
    if (dep && 'uses' in dep) dep.uses.forEach(visit);
  };
  entry.uses.forEach(visit);
  return [
    ...manifest.provided.filter((p) => needed.has(p.name)).map(providedView),
    ...manifest.components.filter((c) => needed.has(c.name)).map((c) => view(c, manifest)),
  ];
}

/** The data of a component's module and its test; `manifest` already lists `entry`. */
export function moduleData(entry: ComponentEntry, manifest: Manifest): ModuleData {
  const self = view(entry, manifest);
  const primary = entry.kind === 'api' || entry.kind === 'worker' ? self.deps.find((d) => d.isStore) : undefined;
  // A topic's subscription and a cron pass what they handle on to each component they use.
  // An API's item is a schema of its own (its handlers check it against its store's records).
  const typeImports = self.deps.map((d) => ({ module: d.module, names: d.typeName }));
  return {
    ...self,
    typeImports,
    apiUses: self.deps
      .filter((d) => d.isApi)
      .map((d) => `deps.${d.camel}`)
      .join(', '),
    primary,
    others: self.deps.filter((d) => d !== primary),
    setup: closure(entry, manifest),
  };
}

/** The data of the registry: what the app provides, and every generated component in creation order. */
export function registryData(manifest: Manifest) {
  const components = manifest.components.map((c) => view(c, manifest));
  const provided = manifest.provided.map(providedView);
  const used = provided.filter((p) => manifest.components.some((c) => c.uses.includes(p.name)));
  const runtimeTypes = [
    'ID',
    ...(components.some((c) => c.kind === 'task') ? ['DeployTask'] : []),
    ...(components.some((c) => c.kind === 'worker') ? ['Worker'] : []),
    ...(components.some((c) => c.kind === 'cron') ? ['Cron'] : []),
  ];
  const returned = components.length ? `{ ${components.map((c) => c.camel).join(', ')} }` : '{}';
  return {
    components,
    provided,
    hasProvided: provided.length > 0,
    /** `{ customerServer }`: the provided components some generated one uses, taken out of `provided`. */
    usedProvided: used.length ? `{ ${used.map((p) => p.camel).join(', ')} }` : '',
    runtimeTypes: runtimeTypes.join(', '),
    returned,
  };
}
