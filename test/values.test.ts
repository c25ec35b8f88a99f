import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
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

const quiet = { info() {}, error() {} };

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'infra-values-'));
}

/** The same startup every persona runs: a store (with its password), an API (with its port), a secret. */
function defineApp() {
  const id = rootId('vals');
  new Store(id`svc`.child('db'));
  new ApiServer(id`svc`.child('api'));
  new Secret(id`token`, () => 'made-' + Math.random());
  new BuildTimeValue(id`settings`, () => ({ region: 'eu', shards: 3 }));
  return id;
}

async function build(buildDir: string): Promise<Record<string, unknown>> {
  const id = defineApp();
  const code = await runPersona({
    root: id,
    persona: 'build',
    args: [],
    paths: { buildDir, entry: join(buildDir, 'main.ts'), projectRoot: buildDir, appDir: buildDir },
    log: quiet,
    setExitCode: false,
  });
  assert.is(code, 0);
  return JSON.parse(readFileSync(join(buildDir, 'values.json'), 'utf8')).values;
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
    assert.is(statSync(join(dir, 'values.json')).mode & 0o777, 0o600);
    const second = await build(dir);
    assert.equal(second, first);
    // No temporary file is left behind.
    assert.equal(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
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
      paths: { buildDir: dir, entry: join(dir, 'main.ts'), projectRoot: dir, appDir: dir },
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
      paths: { buildDir: dir, entry: join(dir, 'main.ts'), projectRoot: dir, appDir: dir },
      log: quiet,
      setExitCode: false,
    });
    const values = Object.values(JSON.parse(readFileSync(join(dir, 'values.json'), 'utf8')).values) as number[];
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
    writeFileSync(join(dir, 'values.json'), '{ not json');
    const id = defineApp();
    const errors: string[] = [];
    const code = await runPersona({
      root: id,
      persona: 'build',
      args: [],
      paths: { buildDir: dir, entry: join(dir, 'main.ts'), projectRoot: dir, appDir: dir },
      log: { info() {}, error: (m) => errors.push(m) },
      setExitCode: false,
    });
    assert.is(code, 1);
    assert.match(errors[0], /values\.json is damaged .*Restore it from a backup/);
    assert.is(readFileSync(join(dir, 'values.json'), 'utf8'), '{ not json');
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
      paths: { buildDir: dir, entry: join(dir, 'main.ts'), projectRoot: dir, appDir: dir },
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
