/**
 * The starter app end to end in one process, as a user runs it, and the proof of concept's
 * example dropped in as the entry module.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, seedExample } from './support/seed.ts';

const run = promisify(execFile);
const expected = 'Loaded customer: {"id":"1","name":"John Doe"}';

test('npm start prints the customer line and exits 0', async () => {
  const { stdout } = await run('npm', ['start', '--silent'], { cwd: repoRoot, env: { ...process.env, PERSONA: '' } });
  assert.ok(stdout.split('\n').includes(expected), stdout);
});

test("the seed's example, dropped in as the entry module, runs and typechecks", async () => {
  const dir = mkdtempSync(join(repoRoot, '.tmp-seed-'));
  try {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'seed-example', private: true, type: 'module' }));
    writeFileSync(join(dir, 'src', 'main.ts'), seedExample());
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../tsconfig.base.json', compilerOptions: { noEmit: true }, include: ['src'] }),
    );
    const { stdout } = await run(process.execPath, ['--conditions=source', join(dir, 'src', 'main.ts')], {
      env: { ...process.env, PERSONA: '' },
    });
    assert.is(stdout.trim(), expected);
    await run(process.execPath, [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(dir, 'tsconfig.json'),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a task that fails makes the process exit non-zero with the error', async () => {
  const dir = mkdtempSync(join(repoRoot, '.tmp-fail-'));
  try {
    writeFileSync(
      join(dir, 'main.ts'),
      `import { rootId, onDeploy, runPersona } from 'infra-generator';
const id = rootId('failing');
onDeploy(id\`client\`, async () => { throw new Error('the API said no'); });
runPersona();
`,
    );
    const outcome = await run(process.execPath, ['--conditions=source', join(dir, 'main.ts')], {
      env: { ...process.env, PERSONA: '' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.is(outcome.code, 1);
    assert.match(outcome.stderr, /Deploy task failing\.client failed: the API said no/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
