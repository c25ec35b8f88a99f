import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rootId, ApiServer, HttpError, Store, onDeploy, Worker, runPersona } from 'infra-generator';

function capture() {
  const lines: string[] = [];
  return {
    lines,
    log: {
      info: (m: string) => lines.push(m),
      error: (m: string, e?: unknown) => lines.push(m + (e ? ` [${(e as Error).message}]` : '')),
    },
  };
}

async function runApp(id: ReturnType<typeof rootId>, log = capture().log): Promise<number> {
  return runPersona({ root: id, persona: '', log, setExitCode: false });
}

test('endpoint calls go through a JSON round trip both ways', async () => {
  const id = rootId('rt');
  const api = new ApiServer(id`api`);
  let received: unknown;
  const kept: Record<string, unknown>[] = [];
  const echo = api.defineEndpoint('/echo', (arg: { when: Date; gone?: undefined; list: number[] }) => {
    received = arg;
    const result = { ...arg, extra: undefined, at: new Date('2026-01-01T00:00:00Z') };
    kept.push(result);
    return result;
  });
  const nothing = api.defineEndpoint('/nothing', () => undefined, { method: 'DELETE' });
  const noArg = api.defineEndpoint('/no-arg', () => 42, { method: 'GET' });
  let result: unknown;
  const arg = { when: new Date('2026-02-03T04:05:06Z'), gone: undefined, list: [1, 2] };
  onDeploy(id`client`, async () => {
    result = await echo(arg);
    (result as { list: number[] }).list.push(99);
    assert.is(await nothing(), undefined);
    assert.is(await noArg(), 42);
  });
  assert.is(await runApp(id), 0);
  assert.equal(received, { when: '2026-02-03T04:05:06.000Z', list: [1, 2] });
  assert.equal(result, { when: '2026-02-03T04:05:06.000Z', list: [1, 2, 99], at: '2026-01-01T00:00:00.000Z' });
  assert.equal(kept[0].list, [1, 2], "the handler's object is not shared with the caller");
  assert.equal(arg.list, [1, 2], "the caller's argument is not shared with the handler");
});

test('an HttpError reaches the caller with its status and message', async () => {
  const id = rootId('errs');
  const api = new ApiServer(id`api`);
  const find = api.defineEndpoint(
    '/find',
    (name: string) => {
      throw new HttpError(404, `No customer named ${name}`);
    },
    { method: 'GET' },
  );
  let caught: unknown;
  onDeploy(id`client`, async () => {
    try {
      await find('Zed');
    } catch (err) {
      caught = err;
    }
  });
  assert.is(await runApp(id), 0);
  assert.instance(caught, HttpError);
  assert.is((caught as HttpError).status, 404);
  assert.is((caught as HttpError).message, 'No customer named Zed');
});

test('any other error becomes a 500 with a generic message; the internal text is only logged', async () => {
  const id = rootId('boom');
  const api = new ApiServer(id`api`);
  const explode = api.defineEndpoint('/explode', () => {
    throw new Error('secret internal detail');
  });
  let caught: HttpError | undefined;
  onDeploy(id`client`, async () => {
    caught = await explode().then(
      () => undefined,
      (err: HttpError) => err,
    );
  });
  const { lines, log } = capture();
  assert.is(await runApp(id, log), 0);
  assert.is(caught!.status, 500);
  assert.not.match(caught!.message, /secret internal detail/);
  assert.match(caught!.message, /Internal error in boom\.api \(POST \/explode\)/);
  assert.ok(
    lines.some((l) => l.includes('secret internal detail')),
    'logged for the developer',
  );
});

test('an argument JSON cannot carry is refused before the handler runs', async () => {
  const id = rootId('badarg');
  const api = new ApiServer(id`api`);
  let calls = 0;
  const take = api.defineEndpoint('/take', (_arg: unknown) => void calls++);
  let message = '';
  onDeploy(id`client`, async () => {
    await take(10n).catch((err: Error) => (message = err.message));
  });
  assert.is(await runApp(id), 0);
  assert.is(calls, 0);
  assert.match(message, /ApiServer badarg\.api: the argument of POST \/take is not JSON-serialisable/);
});

test('endpoint definitions are checked', () => {
  const id = rootId('defs');
  const api = new ApiServer(id`api`);
  api.defineEndpoint('/a', () => 1, { method: 'GET' });
  api.defineEndpoint('/a', () => 1, { method: 'POST' });
  assert.throws(
    () => api.defineEndpoint('/a', () => 1, { method: 'GET' }),
    /ApiServer defs\.api: GET \/a is already defined/,
  );
  assert.throws(() => api.defineEndpoint('no-slash', () => 1), /route "no-slash" must start with "\/"/);
  assert.throws(() => api.defineEndpoint('/x', () => 1, { method: 'TRACE' as 'GET' }), /method "TRACE" must be one of/);
});

test('a failing deploy task makes the run exit 1 with the task named', async () => {
  const id = rootId('fail');
  onDeploy(id`ok`, () => {});
  onDeploy(id`bad`, async () => {
    throw new Error('could not seed');
  });
  const { lines, log } = capture();
  assert.is(await runApp(id, log), 1);
  assert.ok(
    lines.some((l) => l.startsWith('Deploy task fail.bad failed: could not seed')),
    lines.join('\n'),
  );
});

test('workers run until they return; a task failure stops them', async () => {
  const id = rootId('workers');
  const store = new Store<number>(id`counts`);
  new Worker(id`ticker`, async ({ signal }) => {
    while (!signal.aborted) {
      await store.modify('ticks', (n) => (n ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 1));
    }
  });
  onDeploy(id`stopper`, async () => {
    while (((await store.get('ticks')) ?? 0) < 3) await new Promise((r) => setTimeout(r, 1));
    throw new Error('stop now');
  });
  assert.is(await runApp(id), 1);
});

test('a worker that returns lets the process finish with 0', async () => {
  const id = rootId('done');
  let ran = false;
  new Worker(id`once`, async () => {
    ran = true;
  });
  assert.is(await runApp(id), 0);
  assert.ok(ran);
});

test('a failing worker makes the run exit 1 with the worker named', async () => {
  const id = rootId('wfail');
  new Worker(id`broken`, async () => {
    throw new Error('queue gone');
  });
  const { lines, log } = capture();
  assert.is(await runApp(id, log), 1);
  assert.ok(lines.some((l) => l.startsWith('Worker wfail.broken failed: queue gone')));
});

test.run();
