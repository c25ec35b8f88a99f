/**
 * Words a component name may not be, or turn into: each would break one of the forms a name
 * takes (a TypeScript identifier, an SQL identifier, a file next to the registry) or shadow a
 * name the runtime or the generated code already uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** JavaScript and TypeScript keywords, reserved and contextual (a camelCase name is a `const`). */
export const tsKeywords: ReadonlySet<string> = new Set(
  (
    'abstract any as asserts async await bigint boolean break case catch class const constructor continue debugger declare ' +
    'default delete do else enum export extends false finally for from function get global if implements import in infer ' +
    'instanceof interface is keyof let module namespace never new null number object of out override package private ' +
    'protected public readonly require return satisfies set static string super switch symbol this throw true try type ' +
    'typeof undefined unique unknown using var void while with yield arguments eval accessor'
  ).split(' '),
);

/**
 * SQL words a name must not be: PostgreSQL's reserved key words (a Store's tables and
 * identifiers are named from IDs), and reserved words of the SQL standard (or of other common
 * databases, like `database` and `index`) that people reach for as names: `user`, `order`,
 * `table`, `key`, `value`...
 */
export const sqlReserved: ReadonlySet<string> = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation ' +
    'column concurrently constraint create cross current_catalog current_date current_role current_schema current_time ' +
    'current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze ' +
    'from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit ' +
    'localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references ' +
    'returning right select session_user similar some symmetric system_user table tablesample then to trailing true union ' +
    'unique user using variadic verbose when where window with ' +
    // reserved in the SQL standard or other databases, and plausible component names
    'begin between by call commit connect cursor database delete drop exec execute exists grant index insert interval key ' +
    'merge none of open partition range revoke rollback row rows schema session start system time timestamp trigger ' +
    'truncate update value values view'
  ).split(' '),
);

/**
 * Names the runtime gives meaning to: the built-in personas (`PERSONA=build`, `PERSONA=local`)
 * and the child IDs it creates under components (`<store>.password`, `<api>.port`,
 * `<api>.token`); and the starter's own files beside the components (`index.ts` is the
 * registry, `main.ts` the entry module).
 */
export const runtimeNames: ReadonlySet<string> = new Set([
  'build',
  'local',
  'password',
  'port',
  'token',
  'index',
  'main',
  'components',
]);

/**
 * The identifiers the templates declare or import (in modules, tests and the registry). A
 * component whose camelCase or PascalCase form is one of these would shadow it.
 */
export const templateIdentifiers: ReadonlySet<string> = new Set([
  'id',
  'deps',
  'server',
  'store',
  'items',
  'item',
  'itemId',
  'key',
  'record',
  'records',
  'handled',
  'pending',
  'example',
  'put',
  'get',
  'list',
  'remove',
  'signal',
  'run',
  'lines',
  'log',
  'args',
  'failure',
  'refusal',
  'create',
  'captureLog',
  'test',
  'assert',
  'uvu',
  'Type',
  'Static',
  'Components',
  'createComponents',
  'Provided',
  'provided',
  'startInProcess',
  'rootId',
]);

/** JavaScript's globals (`Promise`, `Map`, `console`, `process`...): a type or const of that name would shadow one. */
export const jsGlobals: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(globalThis));

let runtimeExports: ReadonlySet<string> | undefined;

/**
 * What the runtime package exports (`Store`, `ApiServer`, `Worker`, `ID`...), read from its
 * index so the list follows the runtime: a generated module imports some of these by name.
 */
export function runtimeExportNames(repoRoot: string): ReadonlySet<string> {
  if (runtimeExports) return runtimeExports;
  const index = readFileSync(join(repoRoot, 'runtime', 'src', 'index.ts'), 'utf8');
  const names = new Set<string>();
  for (const match of index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const entry of match[1].split(',')) {
      const name = entry
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  return (runtimeExports = names);
}
