/**
 * The base of every component: a node of the tree with an ID, a kind, and its app.
 */
import { appOf, type App } from './app.ts';
import type { ID } from './id.ts';
import { errors, type Phase } from './errors.ts';
import { brand, hasBrand } from './brands.ts';

export abstract class Component {
  /** Whether `value` is a component (of any copy of this package). */
  static isComponent(value: unknown): value is Component {
    return hasBrand(value, 'Component');
  }

  readonly id: ID;
  readonly kind: string;
  readonly app: App;

  constructor(id: ID, kind: string) {
    this.id = id;
    this.kind = kind;
    this.app = appOf(id);
    this.app.register(this);
  }

  /** `Store my-app.db`: how messages name this component. */
  toString(): string {
    return `${this.kind} ${this.id.value}`;
  }

  /**
   * What the tree fingerprint holds of this component besides its kind and ID: lines that each
   * begin with its ID and a word other than `uses` or `calls` (an ApiServer's routes). None by
   * default.
   */
  fingerprintLines(): string[] {
    return [];
  }

  /** Called once startup ends: makes the component's public state read-only. */
  freeze(): void {
    Object.freeze(this);
  }

  /** Problems that stop the app from starting, checked over the whole tree when startup ends. */
  validate(): string[] {
    return [];
  }

  /** Throws unless the app is in one of `phases`; `call` names the method, e.g. `set()`. */
  protected assertPhase(call: string, ...phases: Phase[]): void {
    const phase = this.app.phase;
    if (!phases.includes(phase)) throw errors.wrongPhase(this.toString(), call, phases, phase, this.id.value);
  }
}

brand(Component, 'Component');
