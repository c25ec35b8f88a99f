/**
 * The proof of concept's example as it is written in its README (a copy lives in
 * test/fixtures/proof-of-concept/), with only the import line changed: the package name, and
 * `onDeploy` joins the list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const seedExamplePath = join(repoRoot, 'test', 'fixtures', 'proof-of-concept', 'example.ts.txt');

export function seedExample(): string {
  const code = readFileSync(seedExamplePath, 'utf8');
  const original = "import { rootId, Store, ApiServer, ID, runPersona } from '@coder-mike/poc-infra-generator';";
  if (!code.includes(original)) throw new Error(`${seedExamplePath}: the example's import line changed`);
  return code.replace(
    original,
    "import { rootId, Store, ApiServer, ID, runPersona, onDeploy } from 'infra-generator';",
  );
}
