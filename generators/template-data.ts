/**
 * What the templates see: every name a template prints, computed here once, so the
 * templates hold code and the choices about names live in one place.
 */
import { camelCase, pascalCase, type Kind } from './names.ts';
import type { ComponentEntry, Manifest } from './app-state.ts';

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
  /** The module's type imports from the components it uses: `OrdersStore, OrdersRecord`. */
  typeImports: { name: string; names: string }[];
}

export function view(entry: ComponentEntry, manifest: Manifest): ComponentView {
  const pascal = pascalCase(entry.name);
  const typeNames: Record<Kind, string> = { store: `${pascal}Store`, api: pascal, task: 'DeployTask', worker: 'Worker' };
  const recordTypes: Record<Kind, string | undefined> = { store: `${pascal}Record`, api: `${pascal}Item`, task: undefined, worker: undefined };
  const deps = entry.uses.map((name) => {
    const dep = manifest.components.find((c) => c.name === name);
    if (!dep) throw new Error(`${entry.name} uses ${name}, which is not in the manifest`);
    return view(dep, manifest);
  });
  return {
    kind: entry.kind,
    name: entry.name,
    camel: camelCase(entry.name),
    pascal,
    createName: `create${pascal}`,
    typeName: typeNames[entry.kind],
    recordType: recordTypes[entry.kind],
    isStore: entry.kind === 'store',
    isApi: entry.kind === 'api',
    deps,
    depsArg: deps.length ? `{ ${deps.map((d) => d.camel).join(', ')} }` : '{}',
  };
}

/** Everything `entry` needs to exist first, in manifest (creation) order. */
function closure(entry: ComponentEntry, manifest: Manifest): ComponentEntry[] {
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    manifest.components.find((c) => c.name === name)?.uses.forEach(visit);
  };
  entry.uses.forEach(visit);
  return manifest.components.filter((c) => needed.has(c.name));
}

/** The data of a component's module and its test; `manifest` already lists `entry`. */
export function moduleData(entry: ComponentEntry, manifest: Manifest): ModuleData {
  const self = view(entry, manifest);
  const primary = entry.kind === 'api' || entry.kind === 'worker' ? self.deps.find((d) => d.isStore) : undefined;
  const typeImports = self.deps.map((d) => ({
    name: d.name,
    // An API serves its store's records, so it names their type too.
    names: [d.typeName, ...(d === primary && entry.kind === 'api' ? [d.recordType] : [])].join(', '),
  }));
  return {
    ...self,
    typeImports,
    apiUses: self.deps.filter((d) => d.isApi).map((d) => `deps.${d.camel}`).join(', '),
    primary,
    others: self.deps.filter((d) => d !== primary),
    setup: closure(entry, manifest).map((c) => view(c, manifest)),
  };
}

/** The data of the registry: every component in creation order. */
export function registryData(manifest: Manifest) {
  const components = manifest.components.map((c) => view(c, manifest));
  const runtimeTypes = ['ID', ...(components.some((c) => c.kind === 'task') ? ['DeployTask'] : []), ...(components.some((c) => c.kind === 'worker') ? ['Worker'] : [])];
  const returned = components.length ? `{ ${components.map((c) => c.camel).join(', ')} }` : '{}';
  return { components, runtimeTypes: runtimeTypes.join(', '), returned };
}
