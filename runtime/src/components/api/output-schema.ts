/**
 * An endpoint's output schema (`{ output }`, a TypeBox type): the check of what its handler
 * returns, and the serialiser that writes it (fast-json-stringify, Fastify's own, compiled from
 * the schema). Both run in endpoint.ts's `invokeHandler`, which both modes share, so a value that
 * does not match is the same 500 in one process and over HTTP, and a matching one the same text.
 *
 * Checked before it is written: fast-json-stringify writes what the schema says, not what the
 * value holds (it leaves out properties the schema does not name, and coerces types), so an
 * unchecked value could reach the caller as something else. Both are compiled when the server
 * starts; an app without output schemas never loads fast-json-stringify.
 */
import type { TSchema } from 'typebox';
import { ArgumentSchema, type ArgumentCheck } from './argument-schema.ts';

export type Serialize = (value: unknown) => string;

/** TypeBox's types of no JSON value: a handler returning one answers 204. */
const isNoValue = (schema: unknown) =>
  typeof schema === 'object' && schema !== null && ['undefined', 'void'].includes((schema as { type?: string }).type!);

/**
 * The JSON part of an output schema, as a plain JSON Schema, and whether the value may also be
 * undefined (a 204): `Type.Union([Customer, Type.Undefined()])` is Customer's JSON, and may be
 * undefined; `Type.Undefined()` or `Type.Void()` has no JSON at all. For the serialiser, the
 * OpenAPI document and the generated client, none of which know TypeBox's `undefined`.
 */
export function jsonPart(schema: TSchema): { json: object | undefined; mayBeUndefined: boolean } {
  const plain = JSON.parse(JSON.stringify(schema)) as { anyOf?: unknown[] };
  if (isNoValue(plain)) return { json: undefined, mayBeUndefined: true };
  if (!Array.isArray(plain.anyOf) || !plain.anyOf.some(isNoValue)) return { json: plain, mayBeUndefined: false };
  const rest = plain.anyOf.filter((alternative) => !isNoValue(alternative));
  const others: Record<string, unknown> = { ...plain };
  delete others.anyOf;
  return {
    json: rest.length === 1 ? { ...others, ...(rest[0] as object) } : { ...others, anyOf: rest },
    mayBeUndefined: true,
  };
}

export class OutputSchema {
  readonly schema: TSchema;
  readonly #checker: ArgumentSchema;
  #serialize: Serialize | undefined;
  #compiling: Promise<void> | undefined;

  constructor(schema: TSchema) {
    this.schema = schema;
    this.#checker = new ArgumentSchema(schema, 'the value');
    Object.freeze(this);
  }

  /** Set once compiled (the server compiles at start; a call made before waits for `compile`). */
  get check(): ArgumentCheck | undefined {
    return this.#checker.check;
  }

  get serialize(): Serialize | undefined {
    return this.#serialize;
  }

  compile(): Promise<void> {
    return (this.#compiling ??= Promise.all([
      this.#checker.compile(),
      import('fast-json-stringify').then(({ default: build }) => {
        // Undefined is never written (it is a 204): the serialiser gets the rest.
        const { json } = jsonPart(this.schema);
        if (json !== undefined) this.#serialize = build(json) as Serialize;
      }),
    ]).then(() => undefined));
  }
}
