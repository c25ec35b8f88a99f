/**
 * The indexer's fingerprint: the same for the same function however it was spelled or
 * compiled (Node's type stripping, which the image skips; tsc with the project's options, which
 * the image runs), different for any change in what it does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stripTypeScriptTypes } from 'node:module';
import ts from 'typescript';
import { indexerFingerprint } from 'infra-generator/internal/components/store/indexer-fingerprint';

/** The function whose source is `source` (one expression, TypeScript or JavaScript). */
const functionOf = (source: string) => new Function(`return (${source});`)() as (...args: any[]) => unknown;

/** As Node runs it from TypeScript source: the types replaced by blanks. */
const stripped = (source: string) => functionOf(stripTypeScriptTypes(`(${source})`).slice(1, -1));

/** As tsc compiles it with the project's options (tsconfig.base.json: ES2024, NodeNext). */
function compiled(source: string): (...args: any[]) => unknown {
  const { outputText } = ts.transpileModule(`globalThis.compiledIndexer = ${source};`, {
    compilerOptions: { target: ts.ScriptTarget.ES2024, module: ts.ModuleKind.ESNext, strict: true },
  });
  new Function(outputText)();
  return (globalThis as unknown as { compiledIndexer: (...args: any[]) => unknown }).compiledIndexer;
}

const fingerprint = (indexer: (...args: any[]) => unknown, version?: string | number) =>
  indexerFingerprint({ indexer, version });

const indexers = [
  `(person: { name: string; tags?: string[] }) => (person.tags ?? []).map((tag: string) => ({ indexKey: tag, inlineValue: { name: person.name } }))`,
  `function* (order: { day: string }, key: string) {
    // one entry per order
    yield { indexKey: order.day, inlineValue: key };
  }`,
  `async (value: any) => [{ indexKey: \`\${value?.a}-\${value.b}\`, inlineValue: 1n }]`,
  `(value: any) => [{ indexKey: 'by-' + value.kind, inlineValue: value.n > 1 ? 'many' : 'one' }]`,
];

test('the same indexer from TypeScript source, from tsc and written otherwise has one fingerprint', async () => {
  for (const source of indexers) {
    const fromSource = await fingerprint(stripped(source));
    assert.is(await fingerprint(compiled(source)), fromSource, source);
    // Other spacing, comments, quotes and semicolons, an extra pair of parentheses.
    const respelled = source
      .replaceAll('(person.tags', '((person.tags)')
      .replaceAll('\n    ', '\n /* ! */ ')
      .replaceAll("'", '"');
    assert.is(await fingerprint(stripped(respelled)), fromSource, respelled);
  }
});

test('any change to what it does changes the fingerprint, and so does the version', async () => {
  const base = await fingerprint(stripped(indexers[0]!));
  assert.is.not(
    await fingerprint(stripped(indexers[3]!.replace("'by-'", "'by:'"))),
    await fingerprint(stripped(indexers[3]!)),
  );
  for (const changed of [
    indexers[0]!.replace('indexKey: tag', 'indexKey: tag.toLowerCase()'),
    indexers[0]!.replace('?? []', '|| []'),
    indexers[0]!.replace('{ name: person.name }', '{ name: person.name, n: 1 }'),
  ]) {
    assert.is.not(await fingerprint(stripped(changed)), base, changed);
  }
  const indexer = stripped(indexers[0]!);
  assert.is(await fingerprint(indexer, undefined), base);
  assert.is.not(await fingerprint(indexer, 1), base);
  assert.is.not(await fingerprint(indexer, 1), await fingerprint(indexer, '1'));
  assert.is.not(await fingerprint(indexer, 1), await fingerprint(indexer, 2));
});

test('a method, and a function without source text (bound or native), have a fingerprint too', async () => {
  const object = {
    byName(value: { name: string }) {
      return [{ indexKey: value.name }];
    },
  };
  assert.match(await fingerprint(object.byName), /^[0-9a-f]{64}$/);
  const bound = object.byName.bind(object);
  // Only `version` can tell two bound functions apart.
  assert.is(await fingerprint(bound), await fingerprint(Math.max.bind(null)));
  assert.is.not(await fingerprint(bound, 2), await fingerprint(bound));
});

test.run();
