/**
 * infra-generator/eslint, as an app's flat config uses it (typed linting through typescript-eslint's
 * project service): each rule flags each misuse of its fixture (fixtures/eslint/flagged.ts,
 * startup-calls.ts), and nothing in code that keeps to the phases (fixtures/eslint/clean.ts, the
 * starter, the test apps).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import infra from 'infra-generator/eslint';
import { seedExample } from './support/seed.ts';

const repoRoot = join(import.meta.dirname, '..');
const fixtures = join(import.meta.dirname, 'fixtures', 'eslint');

// The proof of concept's example, as the other tests run it (importing infra-generator): written
// before the first lint, so that the project service finds it in the repository's project.
const seedFile = join(fixtures, 'seed-example.generated.ts');
writeFileSync(seedFile, seedExample());
test.after(() => rmSync(seedFile, { force: true }));

const eslint = new ESLint({
  cwd: repoRoot,
  overrideConfigFile: true,
  overrideConfig: [
    {
      languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: repoRoot } },
    },
    infra.configs.recommended,
  ],
});

async function findings(...patterns: string[]) {
  const results = await eslint.lintFiles(patterns);
  return results.flatMap((result) =>
    result.messages.map((message) => ({
      file: result.filePath,
      line: message.line,
      rule: message.ruleId,
      text: message.message,
    })),
  );
}

/** The lines of `file` marked `// flagged`, and what was found in it: all by `rule`, on those lines. */
async function checkFixture(file: string, rule: string) {
  const expected = readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.trimEnd().endsWith('// flagged') ? [i + 1] : []));
  assert.ok(expected.length >= 5, 'the fixture marks its lines');
  const found = await findings(file);
  assert.equal(
    found.filter((f) => f.rule !== rule),
    [],
    'no parsing problem, and no other rule',
  );
  assert.equal(
    found.map((f) => f.line),
    expected,
    found.map((f) => `${f.line}: ${f.text}`).join('\n'),
  );
  return { expected, byLine: new Map(found.map((f) => [f.line, f.text])) };
}

test('components made at runtime are flagged on their lines, naming the component and where it runs', async () => {
  const { expected, byLine } = await checkFixture(
    join(fixtures, 'flagged.ts'),
    'infra-generator/no-component-at-runtime',
  );
  assert.is(expected.length, 10);
  assert.match(byLine.get(expected[0])!, /^new Store\(id`order-\$\{order\.id\}`\) inside an endpoint's handler: /);
  assert.match(byLine.get(expected[0])!, /INFRA_TREE_FROZEN\)\. Make it at startup/);
  assert.match(byLine.get(expected[1])!, /^onDeploy\(id`migrate-again`\) inside a deploy task's body/);
  assert.match(byLine.get(expected[3])!, /^api\.defineEndpoint\('\/late'\) inside a worker's body/);
  assert.match(byLine.get(expected[4])!, /^new Table\(id`late-table`\)/, 'a re-exported alias is recognised');
  assert.match(byLine.get(expected[5])!, /^new AuditLog\(id`audit`\)/, "an app's subclass is recognised");
  assert.match(
    byLine.get(expected[8])!,
    /^rootId\('another-app'\) inside an indexer: an app made at runtime is never built/,
  );
  assert.match(byLine.get(expected[9])!, /^new Worker\(id`per-bump`\) inside a modify\(\) function/);
});

test('runtime calls made at startup are flagged on their lines, naming the call and the startup function', async () => {
  const { expected, byLine } = await checkFixture(
    join(fixtures, 'startup-calls.ts'),
    'infra-generator/no-runtime-call-at-startup',
  );
  assert.is(expected.length, 5);
  assert.match(byLine.get(expected[0])!, /^prices\.set\(\) at startup: a runtime call, .* INFRA_WRONG_PHASE\)/);
  assert.match(byLine.get(expected[1])!, /^adminPassword\.get\(\) at startup: /);
  assert.match(byLine.get(expected[2])!, /^stock\.set\(\) at startup \(in seed\(\), which runs at startup\)/);
  assert.match(byLine.get(expected[3])!, /^getPrice\(\) at startup \(in warm\(\), which runs at startup\)/);
  assert.match(byLine.get(expected[4])!, /^stock\.get\(\) at startup \(in a function, which runs at startup\)/);
});

test('values that differ between processes are flagged where they reach an ID or options at startup', async () => {
  const { expected, byLine } = await checkFixture(
    join(fixtures, 'varying.ts'),
    'infra-generator/deterministic-startup',
  );
  assert.is(expected.length, 7);
  assert.match(
    byLine.get(expected[0])!,
    /^Date\.now\(\) reaches rootId\(\) at startup, but it differs between processes/,
  );
  assert.match(byLine.get(expected[1])!, /^Math\.random\(\) reaches an ID at startup/, 'followed through a const');
  assert.match(byLine.get(expected[2])!, /^process\.env\.PUBLIC_API reaches new ApiServer\(\) at startup/);
  assert.match(byLine.get(expected[3])!, /^randomUUID\(\) reaches an ID at startup/, 'through two consts');
  assert.match(byLine.get(expected[4])!, /^hostname\(\) reaches api\.defineEndpoint\(\) at startup/);
  assert.match(byLine.get(expected[5])!, /^process\.pid reaches an ID at startup.*INFRA_TREE_DRIFT/);
  assert.match(
    byLine.get(expected[6])!,
    /^Date\.now\(\) reaches new orders\.Index\(\) at startup/,
    "an index's version",
  );
});

test("deterministic-startup's allowEnv: a variable named there is taken as the same in every process", async () => {
  const allowing = new ESLint({
    cwd: repoRoot,
    overrideConfigFile: true,
    overrideConfig: [
      {
        languageOptions: {
          parser: tseslint.parser,
          parserOptions: { projectService: true, tsconfigRootDir: repoRoot },
        },
      },
      infra.configs.recommended,
      { rules: { 'infra-generator/deterministic-startup': ['error', { allowEnv: ['PUBLIC_API'] }] } },
    ],
  });
  const [result] = await allowing.lintFiles([join(fixtures, 'varying.ts')]);
  const texts = result.messages.map((m) => m.message);
  assert.is(texts.length, 6, texts.join('\n'));
  assert.not.ok(texts.some((text) => text.includes('PUBLIC_API')));
});

test("nothing flagged in the clean fixture, the proof of concept's example, the starter or the test apps", async () => {
  const found = await findings(
    join(fixtures, 'clean.ts'),
    seedFile,
    join(repoRoot, 'starter', 'src'),
    join(repoRoot, 'test', 'fixtures', 'deployed-app'),
    join(repoRoot, 'test', 'fixtures', 'worker-app'),
  );
  assert.equal(found, []);
});

test.run();
