/**
 * Planning: turn the answers into the complete list of files to create or change, having
 * checked every input against the app first. Nothing is written here; a plan with any
 * problem is refused as a whole, with every problem listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errors } from './errors.ts';
import {
  camelCase,
  checkName,
  componentId,
  declaredIdentifiers,
  isKind,
  kinds,
  providedIdentifiers,
  type Kind,
} from './names.ts';
import { renderManifest, type AppState, type ComponentEntry, type Manifest } from './app-state.ts';
import { moduleData, registryData } from './template-data.ts';

/** One file of a plan: `before` is its content as read (undefined: the file is new). */
export interface FileWrite {
  path: string;
  content: string;
  before: string | undefined;
}

export interface Plan {
  writes: FileWrite[];
  /** Things to tell the user that do not stop the plan. */
  notes: string[];
}

export interface PlanContext {
  /** The repository root: templates/ and runtime/ are found from it. */
  repoRoot: string;
  /** Renders a handlebars template (plop's renderString, with its helpers). */
  render: (template: string, data: unknown) => string;
}

/** The answers as given: anything may be wrong with them. */
export interface ComponentInput {
  kind: unknown;
  name: unknown;
  uses?: unknown;
}

const display = (path: string) => relative(process.cwd(), path) || path;

/** A store or an API a new component may use: one generated before it, or one the app provides. */
export interface Usable {
  kind: Kind;
  name: string;
  provided: boolean;
}

/**
 * What a new component `name` may use: the APIs the app provides (the customer server), then
 * the generated APIs, and the generated stores whose owner subtree holds it.
 */
export function usableComponents(state: AppState, name: string): Usable[] {
  const self = componentId(state.scope, name);
  const generated = state.manifest.components.filter((c) => {
    if (c.kind === 'api') return true;
    if (c.kind !== 'store') return false;
    // A store belongs to its parent ID's subtree; only components there may use it.
    const owner = componentId(state.scope, c.name).parent!;
    return owner.contains(self);
  });
  return [
    ...state.manifest.provided.map((p) => ({ kind: p.kind, name: p.name, provided: true })),
    ...generated.map((c) => ({ kind: c.kind, name: c.name, provided: false })),
  ];
}

/** Problems with a new component's name that depend on the app: already used, or clashing with one that exists. */
function checkUnused(kind: Kind, name: string, state: AppState): string[] {
  const given = state.manifest.provided.find((p) => p.name === name);
  if (given) {
    return [
      `${JSON.stringify(name)} is already used by the ${given.kind} main.ts provides (${given.module}, listed in ${display(state.manifestPath)}): choose another name`,
    ];
  }
  const existing = state.manifest.components.find((c) => c.name === name);
  if (existing) {
    return [
      `${JSON.stringify(name)} is already used by the ${existing.kind} in ${display(state.manifestPath)}: choose another name ` +
        `(to make it again, delete its files and its entry there, then run \`npx plop registry\`)`,
    ];
  }
  const problems: string[] = [];
  for (const file of [`${name}.ts`, `${name}.test.ts`]) {
    const path = join(state.componentsDir, file);
    if (existsSync(path)) problems.push(`${display(path)} already exists: choose another name, or move that file away`);
  }
  const mine = declaredIdentifiers(kind, name);
  const others = [
    ...state.manifest.provided.map((p) => ({
      what: `the ${p.kind} main.ts provides, ${p.name},`,
      declares: providedIdentifiers(p.name),
    })),
    ...state.manifest.components.map((c) => ({
      what: `the ${c.kind} ${c.name}`,
      declares: declaredIdentifiers(c.kind, c.name),
    })),
  ];
  for (const other of others) {
    const clash = other.declares.find((n) => mine.includes(n));
    if (clash)
      problems.push(
        `${JSON.stringify(name)} would declare ${clash}, which ${other.what} already declares: choose another name`,
      );
  }
  return problems;
}

/**
 * Everything wrong with `name` for a new component of `kind` in this app (empty when it is fine);
 * with the kind not known yet, what is wrong with the name alone (the planner checks the rest).
 */
export function nameProblems(
  kind: Kind | undefined,
  name: unknown,
  state: AppState,
  context: Pick<PlanContext, 'repoRoot'>,
): string[] {
  const problems = checkName(name, kind, { repoRoot: context.repoRoot, scope: state.scope });
  return problems.length || kind === undefined ? problems : checkUnused(kind, name as string, state);
}

function checkUses(kind: Kind, name: string, uses: unknown, state: AppState): { uses: string[]; problems: string[] } {
  if (uses === undefined) return { uses: [], problems: [] };
  if (!Array.isArray(uses) || uses.some((u) => typeof u !== 'string'))
    return { uses: [], problems: ['uses must be a list of component names'] };
  const list = [...new Set(uses as string[])];
  if (kind === 'store' && list.length) {
    return {
      uses: [],
      problems: [
        `a store uses nothing (it is used): leave out ${list.join(', ')}, or make a task, worker or api that uses them`,
      ],
    };
  }
  const usable = usableComponents(state, name);
  const choices = usable.length
    ? `choose from ${usable.map((c) => `${c.name} (${c.kind})`).join(', ')}`
    : 'there are no stores or APIs yet: make one first';
  const problems: string[] = [];
  for (const used of list) {
    const target =
      state.manifest.provided.find((p) => p.name === used) ?? state.manifest.components.find((c) => c.name === used);
    if (used === name) problems.push(`${name} cannot use itself`);
    else if (!target) problems.push(`there is no component named ${JSON.stringify(used)} to use: ${choices}`);
    else if (target.kind !== 'store' && target.kind !== 'api')
      problems.push(
        `${used} is a ${target.kind}: it has nothing to call; a component uses stores and APIs (${choices})`,
      );
    else if (!usable.some((u) => u.name === used)) {
      const owner = componentId(state.scope, used).parent!.value;
      problems.push(`store ${used} may be used only by components under ${owner}: reach it through an API there`);
    }
  }
  return { uses: list, problems };
}

function template(context: PlanContext, file: string): string {
  return readFileSync(join(context.repoRoot, 'templates', file), 'utf8');
}

/** Keeps generated code tidy whatever the templates' whitespace: no trailing spaces, no runs of blank lines. */
export function tidy(code: string): string {
  return code
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .replace(/\n*$/, '\n');
}

function registryWrite(state: AppState, manifest: Manifest, context: PlanContext): FileWrite {
  return {
    path: state.registryPath,
    content: tidy(context.render(template(context, 'registry.ts.hbs'), registryData(manifest))),
    before: state.registryText,
  };
}

/** Each provided module must be there: generated code imports its create function and its type. */
function checkProvided(state: AppState): string[] {
  return state.manifest.provided
    .filter((p) => !existsSync(join(state.componentsDir, p.module)))
    .map(
      (p) =>
        `${display(state.manifestPath)} provides ${p.name} from ${p.module}, which does not exist (${display(join(state.componentsDir, p.module))}): ` +
        'restore the module, or fix its "module" there',
    );
}

function wiringNotes(state: AppState): string[] {
  if (!state.wired) {
    return [
      `${display(state.mainPath)} does not call createComponents(), so the app does not include the generated components yet: add ` +
        "`import { createComponents } from './components/index.ts';` and `createComponents(id`components`" +
        `${state.manifest.provided.length ? `, ${providedArgument(state)}` : ''});\` before runPersona()`,
    ];
  }
  if (state.manifest.provided.length && !state.passesProvided) {
    return [
      `${display(state.mainPath)} calls createComponents() without what ${display(state.manifestPath)} provides: ` +
        `pass ${providedArgument(state)} as its second argument`,
    ];
  }
  return [];
}

/** `{ customerServer: … }`: the second argument of createComponents(), for the notes. */
function providedArgument(state: AppState): string {
  return `{ ${state.manifest.provided.map((p) => `${camelCase(p.name)}: …`).join(', ')} }`;
}

/** Plans a new component: its module, its test, the manifest and the regenerated registry. */
export function planComponent(answers: ComponentInput, state: AppState, context: PlanContext): Plan {
  const { kind, name } = answers;
  const problems: string[] = [];
  if (!isKind(kind))
    problems.push(
      `the kind must be one of ${kinds.join(', ')}${kind === undefined ? '' : `, not ${JSON.stringify(kind)}`}`,
    );
  const nameProblems = checkName(name, isKind(kind) ? kind : undefined, {
    repoRoot: context.repoRoot,
    scope: state.scope,
  });
  problems.push(...nameProblems);
  if (!isKind(kind) || nameProblems.length) throw errors.invalid(problems);
  const kebab = name as string;
  problems.push(...checkUnused(kind, kebab, state));
  const checked = checkUses(kind, kebab, answers.uses, state);
  problems.push(...checked.problems, ...checkProvided(state));
  if (problems.length) throw errors.invalid(problems);

  const entry: ComponentEntry = { kind, name: kebab, uses: checked.uses };
  const manifest: Manifest = { provided: state.manifest.provided, components: [...state.manifest.components, entry] };
  const data = moduleData(entry, manifest);
  const module = join(state.componentsDir, `${kebab}.ts`);
  const test = join(state.componentsDir, `${kebab}.test.ts`);
  return {
    writes: [
      { path: module, content: tidy(context.render(template(context, `${kind}.ts.hbs`), data)), before: undefined },
      { path: test, content: tidy(context.render(template(context, `${kind}.test.ts.hbs`), data)), before: undefined },
      { path: state.manifestPath, content: renderManifest(manifest), before: state.manifestText },
      registryWrite(state, manifest, context),
    ],
    notes: wiringNotes(state),
  };
}

/** Plans regenerating the registry from the manifest (nothing to write when it is current). */
export function planRegistry(state: AppState, context: PlanContext): Plan {
  const missing = state.manifest.components
    .map((c) => join(state.componentsDir, `${c.name}.ts`))
    .filter((path) => !existsSync(path))
    .map(
      (path) =>
        `${display(state.manifestPath)} lists ${display(path)}, which does not exist: restore the file, or remove its entry (and its name from the uses of others)`,
    );
  missing.push(...checkProvided(state));
  if (missing.length) throw errors.invalid(missing);
  const write = registryWrite(state, state.manifest, context);
  const writes = write.content === write.before ? [] : [write];
  if (state.manifestText === undefined)
    writes.unshift({ path: state.manifestPath, content: renderManifest(state.manifest), before: undefined });
  return { writes, notes: wiringNotes(state) };
}
