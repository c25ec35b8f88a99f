/**
 * Brands, as AWS constructs marks a Construct (`Symbol.for('constructs.Construct')` and
 * `Construct.isConstruct(x)`): each component class carries a symbol under its kind on its
 * prototype, and `Store.isStore(x)` asks for it. A brand needs no import of the class (so the
 * rules in core/ can recognise a Store without depending on components/), and `Symbol.for`
 * makes two copies of this package, loaded side by side, agree.
 */

/** The kinds that carry a brand. */
export type BrandedKind =
  | 'Component'
  | 'Persona'
  | 'Store'
  | 'ApiServer'
  | 'DeployTask'
  | 'Worker'
  | 'Topic'
  | 'Subscription'
  | 'Cron'
  | 'BuildTimeValue'
  | 'InfraError';

const symbols = new Map<BrandedKind, symbol>();

/** The brand of `kind`: the same symbol in every copy of the package. */
function brandOf(kind: BrandedKind): symbol {
  let symbol = symbols.get(kind);
  if (!symbol) symbols.set(kind, (symbol = Symbol.for(`infra-generator.${kind}`)));
  return symbol;
}

/** Marks the instances of `constructor` as being of `kind`. */
export function brand(constructor: abstract new (...args: any[]) => unknown, kind: BrandedKind): void {
  Object.defineProperty(constructor.prototype, brandOf(kind), { value: true });
}

/** Whether `value` is an instance of a class branded `kind` (from any copy of the package). */
export function hasBrand(value: unknown, kind: BrandedKind): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    (value as Record<symbol, unknown>)[brandOf(kind)] === true
  );
}
