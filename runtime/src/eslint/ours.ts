/**
 * Which TypeScript symbols are infra-generator's own: declared in a file of the package named
 * `infra-generator` (its sources in this repository, its declarations once installed), whatever
 * the name or module an app imports them under (an alias, a re-export, a subclass).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';

const PACKAGE = 'infra-generator';

/** The package name of the folder `dir` is in (the nearest package.json's), by folder. */
const packageOfFolder = new Map<string, string | undefined>();

function packageOf(dir: string): string | undefined {
  if (packageOfFolder.has(dir)) return packageOfFolder.get(dir);
  const manifest = join(dir, 'package.json');
  let name: string | undefined;
  if (existsSync(manifest)) {
    try {
      name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name ?? '';
    } catch {
      name = '';
    }
  } else {
    const parent = dirname(dir);
    name = parent === dir ? undefined : packageOf(parent);
  }
  packageOfFolder.set(dir, name);
  return name;
}

/** Whether `file` is one of infra-generator's own modules. */
export function isOurFile(file: string): boolean {
  return packageOf(dirname(file)) === PACKAGE;
}

/** The symbol an import or re-export names, followed to its declaration. */
function resolved(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** Whether `symbol` is declared in infra-generator under one of `names`. */
export function isOurs(checker: ts.TypeChecker, symbol: ts.Symbol | undefined, names: ReadonlySet<string>): boolean {
  if (symbol === undefined) return false;
  const target = resolved(checker, symbol);
  return (
    names.has(target.getName()) &&
    (target.declarations ?? []).some((declaration) => isOurFile(declaration.getSourceFile().fileName))
  );
}

/**
 * The name of the first of infra-generator's classes in `names` that `type` is, or extends
 * (an app's own subclass of Store counts as a Store).
 */
export function ourClassOf(checker: ts.TypeChecker, type: ts.Type, names: ReadonlySet<string>): string | undefined {
  const seen = new Set<ts.Type>();
  const queue: ts.Type[] = [type];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const symbol = next.getSymbol();
    if (isOurs(checker, symbol, names)) return symbol!.getName();
    const target = (next as ts.TypeReference).target ?? next;
    if (target.isClassOrInterface()) queue.push(...(checker.getBaseTypes(target) ?? []));
  }
  return undefined;
}
