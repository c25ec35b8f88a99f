/**
 * Component IDs and the names derived from them.
 *
 * An ID is a path of parts from a root (`my-app.customer-server.db`). It is also a tagged
 * template that makes child IDs (``id`db` ``), so the same deterministic name is produced at
 * build time and in every persona. The derived names (environment variable, DNS label, SQL
 * identifier) are pure functions of the ID: adding a component elsewhere in the tree never
 * renames an existing one (which would, for a Store, orphan its data).
 */
import { shortHash } from '../private/hash.ts';
import { errors } from './errors.ts';

export interface ID {
  /** ``id`child` `` or ``id`shard-${n}` ``: the child ID whose last part is the template's text. */
  (strings: TemplateStringsArray, ...values: unknown[]): ID;
  /** `id('child')`: the same as `id.child('child')`. */
  (name: string): ID;
  /** The unescaped parts from the root, e.g. `['my-app', 'customer-server', 'db']`. */
  readonly parts: readonly string[];
  /** The escaped, dotted form: `my-app.customer-server.db`; a `.` inside a part is written `\.`. */
  readonly value: string;
  /** The parent ID, or undefined for a root. */
  readonly parent: ID | undefined;
  /** The last part. */
  readonly name: string;
  child(name: string): ID;
  /** True when `other` is this ID or lies below it. */
  contains(other: ID): boolean;
  /** `MY_APP__CUSTOMER_SERVER__DB`: an environment variable name (prefix for the component's variables). */
  readonly envName: string;
  /** `my-app--customer-server--db`: lowercase DNS label (≤ 63 chars), also a compose service or Kubernetes name. */
  readonly dnsLabel: string;
  /** `my_app__customer_server__db`: an unquoted PostgreSQL identifier (≤ 63 bytes). */
  readonly sqlName: string;
  toString(): string;
}

/** The owner an ID was made by (the app context). Opaque here so that `id.ts` depends on nothing. */
const ownerKey = Symbol('infra-generator.id-owner');

/** A part that maps to the readable forms without loss: lowercase kebab-case starting with a letter. */
const canonicalPart = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const DNS_MAX = 63;
const SQL_MAX = 63;

function escapePart(part: string): string {
  return part.replace(/[\\.]/g, (c) => '\\' + c);
}

function slug(part: string): string {
  const s = part
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s === '' ? 'x' : s;
}

/**
 * Joins slugged parts with `separator`, keeps within `max`, and appends a hash of the full ID
 * value whenever the readable form could be shared with another ID (a non-canonical part) or
 * was truncated.
 */
function derive(
  id: ID,
  separator: string,
  transform: (slug: string) => string,
  max: number,
  hashSeparator: string,
): string {
  const lossy = id.parts.some((p) => !canonicalPart.test(p));
  let text = id.parts.map((p) => transform(slug(p))).join(separator);
  if (/^[0-9]/.test(text)) text = transform('n') + hashSeparator + text;
  if (!lossy && text.length <= max) return text;
  const suffix = hashSeparator + transform(shortHash(id.value));
  const head = text.slice(0, max - suffix.length).replace(/[-_]+$/, '');
  return head + suffix;
}

type DerivedName = 'envName' | 'dnsLabel' | 'sqlName';

/** An ID never changes, and a build asks for each of its names many times (hashing some). */
const derivedNames = new WeakMap<ID, Partial<Record<DerivedName, string>>>();

function memo(id: ID, name: DerivedName, make: (id: ID) => string): string {
  let names = derivedNames.get(id);
  if (!names) derivedNames.set(id, (names = {}));
  return (names[name] ??= make(id));
}

const idPrototype = {
  child(this: ID, name: string): ID {
    return makeId([...this.parts, name], this, (this as unknown as Record<symbol, unknown>)[ownerKey]);
  },
  contains(this: ID, other: ID): boolean {
    return other.parts.length >= this.parts.length && this.parts.every((p, i) => other.parts[i] === p);
  },
  get envName(): string {
    return memo(this as unknown as ID, 'envName', (id) =>
      derive(id, '__', (s) => s.replace(/-/g, '_').toUpperCase(), Infinity, '__'),
    );
  },
  get dnsLabel(): string {
    return memo(this as unknown as ID, 'dnsLabel', (id) => derive(id, '--', (s) => s, DNS_MAX, '-'));
  },
  get sqlName(): string {
    return memo(this as unknown as ID, 'sqlName', (id) => derive(id, '__', (s) => s.replace(/-/g, '_'), SQL_MAX, '_'));
  },
  toString(this: ID): string {
    return this.value;
  },
  [Symbol.for('nodejs.util.inspect.custom')](this: ID): string {
    return `ID(${this.value})`;
  },
};
Object.setPrototypeOf(idPrototype, Function.prototype);

/** C0 and C1 control characters (line breaks among them), and the Unicode line and paragraph separators. */
const CONTROL_CHARACTER = /[\p{Cc}\u2028\u2029]/u;

function makeId(parts: readonly string[], parent: ID | undefined, owner: unknown): ID {
  const last = parts[parts.length - 1];
  if (typeof last !== 'string' || last.length === 0) {
    throw errors.invalidIdPart(parent?.value, last);
  }
  // An ID ends up inside generated files (a Dockerfile comment, YAML, Markdown): a line break or
  // another control character in it could start a line of its own there.
  if (CONTROL_CHARACTER.test(last)) throw errors.idPartControlCharacter(parent?.value, last);
  const id = function (this: unknown, first: TemplateStringsArray | string, ...values: unknown[]): ID {
    const name = typeof first === 'string' ? first : String.raw({ raw: first }, ...values);
    return id.child(name);
  } as ID;
  Object.setPrototypeOf(id, idPrototype);
  Object.defineProperties(id, {
    parts: { value: Object.freeze([...parts]), enumerable: true },
    value: { value: parts.map(escapePart).join('.'), enumerable: true },
    parent: { value: parent },
    // Functions have an own `name`; replace it with the last part.
    name: { value: last, enumerable: true },
    [ownerKey]: { value: owner },
  });
  return id;
}

/** Makes a root ID for `owner` (the app context; see `rootId` in app.ts for the public entry). */
export function makeRootId(name: string, owner: unknown): ID {
  return makeId([name], undefined, owner);
}

/** The owner (app context) an ID was made for. */
export function idOwner(id: ID): unknown {
  return (id as unknown as Record<symbol, unknown>)[ownerKey];
}

function isId(value: unknown): value is ID {
  return typeof value === 'function' && Object.getPrototypeOf(value) === idPrototype;
}

/**
 * `ID` is also a value, so `import { ID } from 'infra-generator'` (as the proof of concept
 * writes it) works under `verbatimModuleSyntax` and at runtime.
 */
export const ID = Object.freeze({
  /** True when `value` is an ID. */
  is: isId,
});
