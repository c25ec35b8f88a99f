import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  rootId,
  appOf,
  Store,
  ApiServer,
  onDeploy,
  assertStartup,
  assertRuntime,
  assertBuildTime,
  runPersona,
} from 'infra-generator';

const quiet = { info() {}, error() {} };

test('assertions name the phase and the subject', async () => {
  const id = rootId('phases');
  assertStartup('setup', id);
  assert.throws(
    () => assertRuntime('loadCustomers()', id),
    /^phases: loadCustomers\(\) is a runtime call, but the app is still starting up/,
  );
  assert.throws(() => assertBuildTime('emit()', id), /is a build-time call, but the app is still starting up/);
  let seen = '';
  onDeploy(id`task`, () => {
    assertRuntime('inside the task', id);
    try {
      assertStartup('too late', id);
    } catch (err) {
      seen = (err as Error).message;
    }
  });
  assert.is(await runPersona({ root: id, persona: '', log: quiet, setExitCode: false }), 0);
  assert.is(seen, 'phases: too late is a startup call, but the app is running');
});

test('runtime calls at startup and startup calls at runtime fail with the component named', async () => {
  const id = rootId('app');
  const api = new ApiServer(id`api`);
  const ping = api.defineEndpoint('/ping', () => 'pong', { method: 'GET' });
  try {
    await ping();
    assert.unreachable();
  } catch (err) {
    assert.match(
      (err as Error).message,
      /^ApiServer app\.api: GET \/ping is a runtime call, but the app is still starting up/,
    );
  }
  const store = new Store(id`db`);
  try {
    await store.set('k', 1);
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /^Store app\.db: set\(\) is a runtime call, but the app is still starting up/);
  }
  let late = '';
  onDeploy(id`late`, () => {
    try {
      api.defineEndpoint('/late', () => 1);
    } catch (err) {
      late += (err as Error).message + '\n';
    }
    try {
      new Store(id`created-too-late`);
    } catch (err) {
      late += (err as Error).message;
    }
  });
  assert.is(await runPersona({ root: id, persona: '', log: quiet, setExitCode: false }), 0);
  assert.match(late, /ApiServer app\.api: defineEndpoint\(\) is a startup call, but the app is running/);
  assert.match(
    late,
    /Cannot create Store app\.created-too-late: the component tree is frozen because the app is running/,
  );
});

test('runPersona with an unknown persona lists the known ones', async () => {
  const id = rootId('known');
  new ApiServer(id`api`);
  onDeploy(id`client`, () => {});
  const errors: string[] = [];
  const code = await runPersona({
    root: id,
    persona: 'known.nope',
    log: { info() {}, error: (m) => errors.push(m) },
    setExitCode: false,
  });
  assert.is(code, 1);
  assert.match(errors[0], /Unknown persona "known\.nope" \(from PERSONA\)\. Known personas: known\.api, known\.client/);
});

test('runPersona runs an app only once', async () => {
  const id = rootId('once');
  assert.is(await runPersona({ root: id, persona: '', log: quiet, setExitCode: false }), 0);
  const errors: string[] = [];
  assert.is(
    await runPersona({ root: id, persona: '', log: { info() {}, error: (m) => errors.push(m) }, setExitCode: false }),
    1,
  );
  assert.match(errors[0], /runPersona\(\) was already called/);
  assert.is(appOf(id).phase, 'runtime');
});

test.run();
