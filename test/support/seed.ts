/**
 * The proof of concept's example, taken from the seed document as it is written there, with
 * only the import line changed (the package name, and `onDeploy` joins the list).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const seedPath = join(repoRoot, '..', 'shared', 'seed', '000_7f8de8050917c5a7.txt');

export function seedExample(): string {
  const seed = readFileSync(seedPath, 'utf8');
  const start = seed.indexOf("```ts\nimport { rootId");
  if (start < 0) throw new Error(`${seedPath}: the "Example Usage" code block was not found`);
  const code = seed.slice(start + '```ts\n'.length, seed.indexOf('```', start + 6));
  const original = "import { rootId, Store, ApiServer, ID, runPersona } from '@coder-mike/poc-infra-generator';";
  if (!code.includes(original)) throw new Error(`${seedPath}: the example's import line changed`);
  return code.replace(original, "import { rootId, Store, ApiServer, ID, runPersona, onDeploy } from 'infra-generator';");
}
