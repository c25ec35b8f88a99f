/**
 * An endpoint's input schema (a TypeBox type): the check its argument passes before the
 * handler runs, and the words a refusal uses.
 *
 * The check runs in endpoint.ts's `invokeEndpoint`, which both modes share, so a call refused
 * in one process is refused over HTTP with the same status and message, whatever the method
 * (GET and DELETE carry their argument as JSON inside the query string, where a Fastify route
 * schema cannot see it). The checker is TypeBox's compiled one, made once per endpoint when its
 * server starts; TypeBox is loaded only then, so an app without schemas never loads it.
 */
import { shorten } from '../../private/text.ts';
import type { TSchema } from 'typebox';
import type { TLocalizedValidationError } from 'typebox/error';

/** The problem with an argument, fit to send (e.g. `/id must be string`), or undefined when it passes. */
export type ArgumentCheck = (arg: unknown) => string | undefined;

export class ArgumentSchema {
  readonly schema: TSchema;
  /** What a problem's sentence calls the value when the problem is the whole of it. */
  readonly #what: string;
  #check: ArgumentCheck | undefined;
  #compiling: Promise<ArgumentCheck> | undefined;

  /** `what`: `the argument` (an input schema's), `the value` (an output schema's). */
  constructor(schema: TSchema, what = 'the argument') {
    this.schema = schema;
    this.#what = what;
    // Frozen, and the checker private: no code but the server's own may loosen the check.
    Object.freeze(this);
  }

  /** Set once compiled: invokeEndpoint calls it without waiting. */
  get check(): ArgumentCheck | undefined {
    return this.#check;
  }

  /** Compiles the checker (once; later calls share it). */
  compile(): Promise<ArgumentCheck> {
    return (this.#compiling ??= import('typebox/compile').then(({ Compile }) => {
      const validator = Compile(this.schema);
      const what = this.#what;
      const check: ArgumentCheck = (arg) =>
        validator.Check(arg) ? undefined : describe(this.schema, validator.Errors(arg), what);
      return (this.#check = check);
    }));
  }
}

/** Whether `value` can be a schema (TypeBox accepts any object, and booleans, as JSON Schema does). */
export function isSchemaLike(value: unknown): value is TSchema {
  return typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

/**
 * One sentence for the first error, at the place that failed: `/id must be string`,
 * `/name is required`, `/extra is not allowed`, `the argument must be object`. An error inside a
 * union (TypeBox lists each alternative's errors before the union's own) is told as the
 * union's, unless exactly one alternative matched its literals (a tagged union), whose error it
 * then is.
 */
function describe(schema: TSchema, errors: TLocalizedValidationError[], what: string): string {
  const place = (instancePath: string) => (instancePath === '' ? what : shorten(instancePath));
  let error = errors[0];
  if (error === undefined) return `${what} does not match its schema`;
  for (;;) {
    // The outermost union around the error: an inner one may sit in an alternative that does not apply.
    const union = errors
      .filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && within(error, e))
      .sort((a, b) => a.schemaPath.length - b.schemaPath.length)[0];
    if (!union) break;
    const tagged = taggedAlternative(errors, union);
    if (tagged) {
      error = tagged;
      // An error of the chosen alternative may itself sit in a union inside it.
      const alternative = alternativePath(union, tagged);
      errors = errors.filter((e) => `${e.schemaPath}/`.startsWith(alternative));
      continue;
    }
    const { at = union.instancePath, text } = unionText(schema, errors, union);
    return `${place(at)} ${text}`;
  }
  switch (error.keyword) {
    case 'required': {
      const paths = error.params.requiredProperties.map((key) => shorten(`${error.instancePath}/${escapeKey(key)}`));
      return `${listed(paths)} ${paths.length === 1 ? 'is' : 'are'} required`;
    }
    case 'additionalProperties':
      return `${shorten(`${error.instancePath}/${escapeKey(error.params.additionalProperties[0] ?? '')}`)} is not allowed`;
    case 'boolean':
      return `${place(error.instancePath)} is not allowed`;
    case 'const':
      return `${place(error.instancePath)} must be ${valueText(error.params.allowedValue)}`;
    case 'enum':
      return `${place(error.instancePath)} must be one of ${listed(error.params.allowedValues.map(valueText), 'or')}`;
    default:
      return `${place(error.instancePath)} ${error.message}`;
  }
}

/** Whether `inner` was found while checking one alternative of the union error `union`. */
function within(inner: TLocalizedValidationError, union: TLocalizedValidationError): boolean {
  return inner !== union && inner.schemaPath.startsWith(`${union.schemaPath}/${union.keyword}/`);
}

/** `#/…/anyOf/1/` for an error of the union's second alternative. */
function alternativePath(union: TLocalizedValidationError, inner: TLocalizedValidationError): string {
  const rest = inner.schemaPath.slice(union.schemaPath.length + union.keyword.length + 2);
  return `${union.schemaPath}/${union.keyword}/${rest.split('/', 1)[0]}/`;
}

/**
 * The first error of the one alternative whose literal (const) checks all passed, when exactly
 * one did: for `{ kind: 'circle', r } | { kind: 'square', side }`, `{ kind: 'circle', r: 'x' }`
 * is told as `/r must be number`.
 */
function taggedAlternative(
  errors: TLocalizedValidationError[],
  union: TLocalizedValidationError,
): TLocalizedValidationError | undefined {
  const byAlternative = new Map<string, TLocalizedValidationError[]>();
  for (const e of errors) {
    if (!within(e, union)) continue;
    const key = alternativePath(union, e);
    byAlternative.set(key, [...(byAlternative.get(key) ?? []), e]);
  }
  // A literal refused inside a union of the alternative is a value, not the alternative's tag.
  const literalRefused = (list: TLocalizedValidationError[]) =>
    list.some(
      (e) =>
        (e.keyword === 'const' || e.keyword === 'enum') &&
        !list.some((u) => (u.keyword === 'anyOf' || u.keyword === 'oneOf') && within(e, u)),
    );
  const untagged = [...byAlternative.values()].filter((list) => !literalRefused(list));
  // A tag only tells when the others were refused by theirs.
  if (untagged.length !== 1 || byAlternative.size < 2) return undefined;
  return untagged[0][0];
}

/**
 * `must be one of "a" or "b"` (literals), `/kind must be one of "circle" or "square"` (no
 * alternative's tag matched), `must be string or null` (every alternative refused the value's
 * type), or else a count of the alternatives; `at` when the place is not the union's own.
 */
function unionText(
  schema: TSchema,
  errors: TLocalizedValidationError[],
  union: TLocalizedValidationError,
): { at?: string; text: string } {
  const alternatives = (resolve(schema, union.schemaPath) as Record<string, unknown> | undefined)?.[union.keyword];
  if (!Array.isArray(alternatives)) return { text: 'must match one of the allowed forms' };
  const literals = alternatives.every((a) => typeof a === 'object' && a !== null && 'const' in a);
  if (literals)
    return {
      text: `must be one of ${listed(
        alternatives.map((a) => valueText(a.const)),
        'or',
      )}`,
    };
  // A tagged union whose every alternative refused the same property's literal: name that property.
  const inners = errors.filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && within(e, union));
  const tagRefusals = errors.filter(
    (e) =>
      e.keyword === 'const' &&
      within(e, union) &&
      e.instancePath !== union.instancePath &&
      !inners.some((u) => within(e, u)),
  );
  const tagPaths = new Set(tagRefusals.map((e) => e.instancePath));
  if (tagPaths.size === 1 && new Set(tagRefusals.map((e) => alternativePath(union, e))).size === alternatives.length) {
    const values = tagRefusals.map((e) => (e.keyword === 'const' ? valueText(e.params.allowedValue) : ''));
    return { at: tagRefusals[0].instancePath, text: `must be one of ${listed([...new Set(values)], 'or')}` };
  }
  const typeRefusals = errors.filter(
    (e) => e.keyword === 'type' && e.instancePath === union.instancePath && within(e, union),
  );
  const refusedBy = new Set(typeRefusals.map((e) => alternativePath(union, e)));
  if (refusedBy.size === alternatives.length) {
    const types = [...new Set(typeRefusals.flatMap((e) => (e.keyword === 'type' ? [e.params.type].flat() : [])))];
    return { text: `must be ${listed(types, 'or')}` };
  }
  return { text: `must match one of its ${alternatives.length} allowed forms` };
}

/** The schema at a JSON pointer like `#/properties/shape`. */
function resolve(schema: unknown, pointer: string): unknown {
  let node = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/')) {
    if (part === '') continue;
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node;
}

/** A key as a JSON-pointer segment. */
function escapeKey(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function valueText(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** `a`, `a and b`, `a, b and c` (at most 10, then `…`). */
function listed(items: string[], conjunction = 'and'): string {
  const shown = items.length > 10 ? [...items.slice(0, 10), '…'] : items;
  return shown.length <= 1
    ? (shown[0] ?? '')
    : `${shown.slice(0, -1).join(', ')} ${conjunction} ${shown[shown.length - 1]}`;
}
