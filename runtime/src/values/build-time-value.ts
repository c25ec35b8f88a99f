/**
 * BuildTimeValue: a value made once, by the first build that sees its ID, and kept in the
 * build folder's value file from then on (so a database password or a port never changes
 * under a running system). At runtime each persona allowed to read it gets it through its
 * environment; in one process it is read from the value file, or made afresh if there is none.
 */
import { brand, hasBrand } from '../core/brands.ts';
import { valuePlatform } from './value-platform.ts';
import { Component } from '../core/component.ts';
import { assertMayReadValue } from '../core/access.ts';
import type { ID } from '../core/id.ts';
import type { Json } from '../core/json.ts';

export interface GenerateContext<T> {
  /** Values of the same kind already kept (e.g. ports in use), so a new one can avoid them. */
  readonly taken: readonly T[];
}

export interface BuildTimeValueOptions {
  /**
   * Which personas may read the value at runtime: those at or below these IDs. Default: the
   * subtree of the value's parent (the component that owns it).
   */
  readers?: readonly ID[] | ((persona: ID) => boolean);
  /** A secret is never printed and reaches personas only through 0600 files. Default false. */
  secret?: boolean;
}

export class BuildTimeValue<T extends Json = Json> extends Component {
  /** Whether `value` is a build-time value (a Secret, Password, Port, …, of any copy of this package). */
  static isBuildTimeValue(value: unknown): value is BuildTimeValue<any> {
    return hasBrand(value, 'BuildTimeValue');
  }

  readonly generate: (context: GenerateContext<T>) => T;
  readonly #readers: readonly ID[] | ((persona: ID) => boolean);
  readonly secret: boolean;

  constructor(
    id: ID,
    generate: (context: GenerateContext<T>) => T,
    options: BuildTimeValueOptions = {},
    kind = 'BuildTimeValue',
  ) {
    super(id, kind);
    this.generate = generate;
    this.#readers = options.readers ?? [id.parent ?? id];
    this.secret = options.secret ?? false;
  }

  /** The value (runtime or build time). */
  get(): T {
    this.assertPhase('get()', 'runtime', 'build');
    assertMayReadValue(this);
    return valuePlatform(this.app).value(this);
  }

  get readersText(): string {
    const readers = this.#readers;
    return typeof readers === 'function'
      ? 'the personas its readers option allows'
      : `personas under ${readers.map((r) => r.value).join(', ')}`;
  }

  /** Whether a persona (by ID) may read this value. */
  readableBy(persona: ID): boolean {
    const readers = this.#readers;
    return typeof readers === 'function' ? readers(persona) : readers.some((r) => r.contains(persona));
  }

  /** The text that carries the value in an environment variable. */
  encode(value: T): string {
    return JSON.stringify(value);
  }

  decode(text: string): T {
    return JSON.parse(text) as T;
  }

  /** Checks a kept value still has this kind's form (a hand-edited file may not). */
  accepts(value: Json): value is T {
    return value !== undefined;
  }

  /** What `accepts` takes, in words, for the error about a damaged kept value (`a <kind> is <shape>`). */
  get shape(): string {
    return 'any JSON value';
  }
}

brand(BuildTimeValue, 'BuildTimeValue');
