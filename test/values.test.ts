import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  rootId,
  Store,
  ApiServer,
  Password,
  Port,
  Secret,
  BuildTimeValue,
  onDeploy,
  runPersona,
} from 'infra-generator';
import type { InfraError } from 'infra-generator/internal/core/errors';
import { appOf } from 'infra-generator/internal/core/app';
import { ValueFile } from 'infra-generator/internal/values/value-file';
import { planDeployment } from 'infra-generator/internal/plan/plan';

const quiet = { info() {}, error() {} };

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'infra-values-'));
}

/** The paths of a project at `dir` whose build folder is `dir/build` (the project root may not be one). */
function pathsIn(dir: string) {
  return { buildDir: join(dir, 'build'), entry: join(dir, 'main.ts'), projectRoot: dir, appDir: dir };
}

const valueFile = (dir: string) => join(dir, 'build', 'values.json');

/** The same startup every persona runs: a store (with its password), an API (with its port), a secret. */
function defineApp() {
  const id = rootId('vals');
  new Store(id`svc`.child('db'));
  new ApiServer(id`svc`.child('api'));
  new Secret(id`token`, () => 'made-' + Math.random());
  new BuildTimeValue(id`settings`, () => ({ region: 'eu', shards: 3 }));
  return id;
}

async function build(dir: string, args: string[] = []): Promise<Record<string, unknown>> {
  const id = defineApp();
  const code = await runPersona({
    root: id,
    persona: 'build',
    args,
    paths: pathsIn(dir),
    log: quiet,
    setExitCode: false,
  });
  assert.is(code, 0);
  return JSON.parse(readFileSync(valueFile(dir), 'utf8')).values;
}

/** A build of defineApp() that is expected to fail: its exit code and what it logged as errors. */
async function failedBuild(dir: string, args: string[] = []): Promise<{ code: number; errors: string[] }> {
  const errors: string[] = [];
  const code = await runPersona({
    root: defineApp(),
    persona: 'build',
    args,
    paths: pathsIn(dir),
    log: { info() {}, error: (m) => errors.push(m) },
    setExitCode: false,
  });
  return { code, errors };
}

test('the build makes every value once, keeps it across builds, in a 0600 file', async () => {
  const dir = tempDir();
  try {
    const first = await build(dir);
    assert.type(first['vals.svc.db.password'], 'string');
    assert.ok((first['vals.svc.db.password'] as string).length >= 32);
    assert.ok(Number.isInteger(first['vals.svc.api.port']));
    assert.equal(first['vals.settings'], { region: 'eu', shards: 3 });
    assert.match(first['vals.token'] as string, /^made-/);
    assert.is(statSync(valueFile(dir)).mode & 0o777, 0o600);
    const second = await build(dir);
    assert.equal(second, first);
    // No temporary file is left behind.
    assert.equal(
      readdirSync(join(dir, 'build')).filter((f) => f.endsWith('.tmp')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a value whose component went away is kept, so it comes back unchanged', async () => {
  const dir = tempDir();
  try {
    const first = await build(dir);
    const id = rootId('vals');
    new Store(id`other`);
    await runPersona({
      root: id,
      persona: 'build',
      args: [],
      paths: pathsIn(dir),
      log: quiet,
      setExitCode: false,
    });
    const again = await build(dir);
    assert.is(again['vals.svc.db.password'], first['vals.svc.db.password']);
    assert.type(again['vals.other.password'], 'string');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ports are distinct', async () => {
  const dir = tempDir();
  try {
    const id = rootId('ports');
    for (let i = 0; i < 200; i++) new Port(id`p${i}`);
    await runPersona({
      root: id,
      persona: 'build',
      args: [],
      paths: pathsIn(dir),
      log: quiet,
      setExitCode: false,
    });
    const values = Object.values(JSON.parse(readFileSync(valueFile(dir), 'utf8')).values) as number[];
    assert.is(values.length, 200);
    assert.is(new Set(values).size, 200);
    for (const port of values) assert.ok(port >= 20000 && port < 30000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged value file stops the build with a message, and is left as it was', async () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, 'build'));
    writeFileSync(valueFile(dir), '{ not json');
    const id = defineApp();
    const errors: string[] = [];
    const code = await runPersona({
      root: id,
      persona: 'build',
      args: [],
      paths: pathsIn(dir),
      log: { info() {}, error: (m) => errors.push(m) },
      setExitCode: false,
    });
    assert.is(code, 1);
    assert.match(errors[0], /values\.json is damaged .*Restore it from a backup/);
    assert.is(readFileSync(valueFile(dir), 'utf8'), '{ not json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An entry of the value file replaced by `damaged`, as a hand edit or a bad merge leaves it. */
function damage(dir: string, id: string, damaged: unknown): string {
  const file = JSON.parse(readFileSync(valueFile(dir), 'utf8'));
  file.values[id] = damaged;
  const text = JSON.stringify(file, null, 2) + '\n';
  writeFileSync(valueFile(dir), text);
  return text;
}

test('a damaged value is an error naming its ID and how to repair it; nothing is replaced', async () => {
  const cases: [id: string, damaged: unknown, shape: RegExp][] = [
    ['vals.svc.db.password', 12345, /found a number; a Password is a non-empty string/],
    ['vals.svc.db.password', '', /found an empty string; a Password is a non-empty string/],
    ['vals.svc.db.password', ['secret-in-an-array'], /found an array; a Password is a non-empty string/],
    ['vals.svc.api.token', null, /found null; a Secret is a non-empty string/],
    ['vals.token', { text: 'x' }, /found an object; a Secret is a non-empty string/],
    ['vals.svc.api.port', 70000, /found 70000; a Port is a whole number from 1 to 65535/],
    ['vals.svc.api.port', 0, /found 0; a Port is a whole number from 1 to 65535/],
    ['vals.svc.api.port', '20001', /found "20001"; a Port is a whole number from 1 to 65535/],
    ['vals.svc.api.port', 20001.5, /found 20001.5; a Port/],
  ];
  for (const [id, damaged, shape] of cases) {
    const dir = tempDir();
    const what = `${id} = ${JSON.stringify(damaged)}`;
    try {
      await build(dir);
      const text = damage(dir, id, damaged);
      const { code, errors } = await failedBuild(dir);
      assert.is(code, 1, what);
      assert.is(errors.length, 1, what);
      assert.ok(errors[0].includes(`${id}: its value in ${valueFile(dir)} is damaged`), `${what}: ${errors[0]}`);
      assert.match(errors[0], shape, what);
      assert.ok(errors[0].includes('Restore the file from a backup'), what);
      assert.ok(errors[0].includes(`npm run infra:build -- --reset-value ${id}`), what);
      assert.match(errors[0], /database's own password changed/, what);
      assert.not.ok(errors[0].includes('secret-in-an-array'), `${what}: a secret's text is never shown`);
      assert.is(readFileSync(valueFile(dir), 'utf8'), text, `${what}: the file is left byte for byte`);
      // The error itself carries its code and the value's ID.
      const app = appOf(defineApp());
      const file = ValueFile.load(valueFile(dir));
      try {
        file.resolve(app);
        assert.unreachable(what);
      } catch (err) {
        assert.is((err as InfraError).code, 'INFRA_VALUE_DAMAGED', what);
        assert.is((err as InfraError).id, id, what);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('npm start and infra:local stop at a damaged value too, with the same error, rather than make another', async () => {
  const dir = tempDir();
  try {
    await build(dir);
    damage(dir, 'vals.token', 12345);
    const expected = `Secret vals.token: its value in ${valueFile(dir)} is damaged (found a number; a Secret is a non-empty string)`;
    // One process, reading the build's values.
    const id = defineApp();
    const token = appOf(id).find('vals.token') as Secret;
    let read: unknown = 'nothing';
    onDeploy(id`reader`, () => {
      read = token.get();
    });
    const errors: string[] = [];
    const log = { info() {}, error: (m: string) => errors.push(m) };
    assert.is(await runPersona({ root: id, persona: '', paths: pathsIn(dir), log, setExitCode: false }), 1);
    assert.match(errors.join('\n'), `Deploy task vals.reader failed: ${expected}`);
    assert.is(read, 'nothing', 'no value was made in its place');
    // The plan the local runner starts its personas from.
    try {
      planDeployment(appOf(defineApp()), (key) => ValueFile.load(valueFile(dir)).get(key), valueFile(dir));
      assert.unreachable('the plan refuses the damaged value');
    } catch (err) {
      assert.is((err as InfraError).code, 'INFRA_VALUE_DAMAGED');
      assert.match((err as Error).message, expected);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--reset-value ID makes a new value for exactly that entry, damaged or not', async () => {
  const dir = tempDir();
  try {
    const first = await build(dir);
    const damagedPassword = damage(dir, 'vals.svc.db.password', 12345);
    // Unknown IDs: an error that lists the app's value IDs; nothing written.
    const unknown = await failedBuild(dir, ['--reset-value', 'vals.svc.db.pasword']);
    assert.is(unknown.code, 1);
    assert.match(unknown.errors[0], /--reset-value vals\.svc\.db\.pasword: no build-time value has this ID/);
    assert.ok(
      unknown.errors[0].includes(
        'vals.settings, vals.svc.api.port, vals.svc.api.token, vals.svc.db.password, vals.token',
      ),
    );
    assert.is(readFileSync(valueFile(dir), 'utf8'), damagedPassword);

    const repaired = await build(dir, ['--reset-value', 'vals.svc.db.password']);
    assert.type(repaired['vals.svc.db.password'], 'string');
    assert.is((repaired['vals.svc.db.password'] as string).length, 32);
    assert.is.not(repaired['vals.svc.db.password'], first['vals.svc.db.password']);
    assert.equal({ ...repaired, 'vals.svc.db.password': 'x' }, { ...first, 'vals.svc.db.password': 'x' });

    // Repeatable, and also for a value that is not damaged (a token to rotate).
    const rotated = await build(dir, ['--reset-value', 'vals.token', '--reset-value=vals.svc.api.token']);
    assert.is.not(rotated['vals.token'], repaired['vals.token']);
    assert.is.not(rotated['vals.svc.api.token'], repaired['vals.svc.api.token']);
    assert.equal(
      { ...rotated, 'vals.token': 'x', 'vals.svc.api.token': 'x' },
      { ...repaired, 'vals.token': 'x', 'vals.svc.api.token': 'x' },
    );
    // Without it, the values stay.
    assert.equal(await build(dir), rotated);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--reset-value of a Store password warns that the database must be told the new one', async () => {
  const dir = tempDir();
  try {
    await build(dir);
    const lines: string[] = [];
    const code = await runPersona({
      root: defineApp(),
      persona: 'build',
      args: ['--reset-value', 'vals.svc.db.password'],
      paths: pathsIn(dir),
      log: { info: (m) => lines.push(m), error: (m) => lines.push(m) },
      setExitCode: false,
    });
    assert.is(code, 0, lines.join('\n'));
    assert.ok(
      lines.some((l) =>
        /^Warning: made a new password for Store vals\.svc\.db \(--reset-value\)\..*ALTER ROLE/.test(l),
      ),
      lines.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in one process, values come from the build when there is one', async () => {
  const dir = tempDir();
  try {
    const built = await build(dir);
    const id = defineApp();
    const password = new Password(id`extra`);
    let seen: unknown[] = [];
    onDeploy(id`reader`, () => {
      seen = [password.get().length, new Set([password.get()]).size];
    });
    await runPersona({
      root: id,
      persona: '',
      paths: pathsIn(dir),
      log: quiet,
      setExitCode: false,
    });
    assert.equal(seen, [32, 1]);
    assert.ok(built['vals.token']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
