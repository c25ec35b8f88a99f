/**
 * A component name and the forms it takes: the kebab-case name (file, ID part, route), its
 * camelCase form (a const, a key of the registry), its PascalCase form (types, `create…`),
 * and the names the runtime derives from its ID (DNS label, SQL identifier). `checkName`
 * says everything that is wrong with a name, each with what to do.
 */
// By path, not as `infra-generator/internal/*`: `npx plop` loads the plopfile without the
// `source` export condition, so that entry point would resolve to the runtime's built dist/
// (absent in a clone) instead of its TypeScript source; the ID rules must be the runtime's own.
import { makeRootId } from '../runtime/src/core/id.ts';
import type { ID } from '../runtime/src/core/id.ts';
import {
  jsGlobals,
  runtimeExportNames,
  runtimeNames,
  sqlReserved,
  templateIdentifiers,
  tsKeywords,
} from './reserved.ts';

export const kinds = ['store', 'api', 'task', 'worker', 'topic', 'cron'] as const;
export type Kind = (typeof kinds)[number];

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (kinds as readonly string[]).includes(value);
}

/** Lowercase letters and digits in hyphen-separated words, starting with a letter. */
export const kebabCase = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function pascalCase(name: string): string {
  const camel = camelCase(name);
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

/** A kebab-case suggestion for a name that is not one (`Bad Name!` gives `bad-name`). */
export function suggestName(name: string): string | undefined {
  const s = name
    .normalize('NFKD')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[-0-9]+|-+$/g, '');
  return kebabCase.test(s) ? s : undefined;
}

/**
 * The identifiers a component of `kind` named `name` declares where other components can see
 * them: its camelCase const (in the registry and tests), its `create…` function and its
 * exported types. Two components whose sets meet would clash in the registry.
 */
export function declaredIdentifiers(kind: Kind, name: string): string[] {
  const camel = camelCase(name);
  const pascal = pascalCase(name);
  const types: Record<Kind, string[]> = {
    store: [`${pascal}Record`, `${pascal}Store`],
    api: [pascal, `${pascal}Item`, `${pascal}Deps`],
    task: [`${pascal}Deps`],
    worker: [`${pascal}Deps`],
    topic: [pascal, `${pascal}Message`, `${pascal}Deps`],
    cron: [`${pascal}Deps`],
  };
  return [camel, `create${pascal}`, ...types[kind]];
}

/** The identifiers a provided API takes in generated code: its const, its `create…` function (tests) and its type. */
export function providedIdentifiers(name: string): string[] {
  return [camelCase(name), `create${pascalCase(name)}`, pascalCase(name)];
}

/** The child IDs the runtime creates under a component of each kind. */
const runtimeChildren: Record<Kind, readonly string[]> = {
  store: ['password'],
  api: ['port', 'token'],
  task: [],
  worker: [],
  topic: ['password', 'handler'],
  cron: ['ticks'],
};

export const DNS_LABEL_MAX = 63;

export interface NameContext {
  /** The repository root (to read the runtime's exports). */
  repoRoot: string;
  /** The ID parts under which main.ts creates the generated components, e.g. ['my-app', 'components']. */
  scope: readonly string[];
}

/** The component's ID in the app, e.g. `my-app.components.orders`. */
export function componentId(scope: readonly string[], name: string): ID {
  let id = makeRootId(scope[0], undefined);
  for (const part of scope.slice(1)) id = id.child(part);
  return id.child(name);
}

/**
 * Problems with `name` as the name of a new component of `kind` (empty when it is fine):
 * its form, reserved words, and whether every name derived from it stays readable.
 * Whether it is already used is the plan's question (it knows the app).
 */
export function checkName(name: unknown, kind: Kind | undefined, context: NameContext): string[] {
  if (typeof name !== 'string' || name.trim() === '') return ['a name is required, e.g. "orders" (kebab-case)'];
  if (!kebabCase.test(name)) {
    const suggestion = suggestName(name);
    return [
      `${JSON.stringify(name)} is not a kebab-case name: use lowercase letters, digits and single hyphens, starting with a letter` +
        (suggestion ? `, e.g. ${JSON.stringify(suggestion)}` : ''),
    ];
  }
  const problems: string[] = [];
  const camel = camelCase(name);
  const pascal = pascalCase(name);
  const sql = name.replace(/-/g, '_');
  const reserved = (why: string) =>
    problems.push(
      `${JSON.stringify(name)} ${why}: choose another name, e.g. ${JSON.stringify(`${name}-${kind ?? 'component'}`)}`,
    );
  if (tsKeywords.has(name) || tsKeywords.has(camel)) reserved('is a JavaScript/TypeScript keyword');
  else if (sqlReserved.has(sql)) reserved('is a reserved word in SQL');
  else if (runtimeNames.has(name)) reserved('is a name the runtime or the starter app already uses');
  else {
    const runtime = runtimeExportNames(context.repoRoot);
    const clash = [camel, pascal].find(
      (form) => runtime.has(form) || jsGlobals.has(form) || templateIdentifiers.has(form),
    );
    if (clash) {
      const what = runtime.has(clash)
        ? "the runtime's export"
        : jsGlobals.has(clash)
          ? 'the JavaScript global'
          : "the generated code's own";
      reserved(`would shadow ${what} ${clash}`);
    }
  }

  // Every derived name must be the readable one: a name so long that the runtime shortens it
  // with a hash would make compose services and databases hard to recognise.
  const id = componentId(context.scope, name);
  const scopeId = id.parent!;
  const scopeReadable = scopeId.dnsLabel === scopeId.parts.join('--');
  const ids = [id, ...(kind ? runtimeChildren[kind] : ['password', 'port', 'token']).map((c) => id.child(c))];
  const longest = ids.reduce((a, b) => (b.parts.join('--').length > a.parts.join('--').length ? b : a));
  const readableDns = longest.parts.join('--');
  const readableSql = longest.parts.join('__').replace(/-/g, '_');
  if (scopeReadable && (longest.dnsLabel !== readableDns || longest.sqlName !== readableSql)) {
    const over = readableDns.length - DNS_LABEL_MAX;
    problems.push(
      `${JSON.stringify(name)} is too long: ${longest.value} would be the DNS label ${readableDns} (${readableDns.length} characters, at most ${DNS_LABEL_MAX}); ` +
        `use a name of at most ${Math.max(1, name.length - over)} characters`,
    );
  }
  return problems;
}
