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
        // A plain JSON copy: TypeBox's own markers are no JSON Schema keywords.
        this.#serialize = build(JSON.parse(JSON.stringify(this.schema))) as Serialize;
      }),
    ]).then(() => undefined));
  }
}
