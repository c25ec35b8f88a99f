/**
 * The dev loop's session (modes/dev/session.ts) with a stand-in app (test/fixtures/dev/): what it
 * shows of a start, a restart, changes that come during a restart or during the build, an app
 * that will not start; and that what an app being stopped says does not count.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { DevSession } from 'infra-generator/internal/modes/dev/session';
import type { Overview } from 'infra-generator/internal/modes/dev-dashboard-api';

const test = suite('npm run dev: the session');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'dev');

function session(env: Record<string, string> = {}, before?: Record<string, string>) {
  const printed: string[] = [];
  let mark = 0;
  const s = new DevSession({
    command: process.execPath,
    args: [join(fixtures, 'fake-app.mjs')],
    cwd: fixtures,
    // Each start of the app marks its line with its number.
    get env() {
      return { ...process.env, ...env, FAKE_MARK: String(++mark) };
    },
    mode: before ? 'local' : 'one-process',
    ...(before ? { before: { args: [join(fixtures, 'fake-build.mjs')], env: { ...process.env, ...before } } } : {}),
    print: (line) => printed.push(line),
    stopGraceMs: 5_000,
  });
  return { s, printed };
}

async function until(s: DevSession, what: string, check: (o: Overview) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check(s.overview())) {
    if (Date.now() > deadline) throw new Error(`Not within ${timeoutMs} ms: ${what}\n${JSON.stringify(s.overview())}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return s.overview();
}

const task = (o: Overview) => o.personas.find((p) => p.id === 'fake.task');

test('a start, then a restart: the tree, the persona, its restarts; the stopped app’s last words ignored', async () => {
  const { s, printed } = session({ FAKE_STOP_MS: '200' });
  const states: string[] = [];
  s.subscribe((event) => {
    if (event.type === 'overview') states.push(task(event.data)?.state ?? '-');
  });
  try {
    s.start();
    const first = await until(s, 'running', (o) => o.state === 'running' && task(o)?.state === 'running');
    assert.is(first.app, 'fake');
    assert.is(first.generation, 1);
    await s.restart(['src/a.ts']);
    const second = await until(s, 'running again', (o) => o.generation === 2 && task(o)?.state === 'running');
    await until(s, 'its line', () => s.logs.find({ persona: 'fake.task' }).length === 2);
    // On SIGTERM the stand-in says its task failed: said while being stopped, it does not count.
    assert.not.ok(states.includes('failed'), states.join(' '));
    assert.equal(second.changed, ['src/a.ts']);
    assert.is(task(second)!.restarts, 1);
    assert.is(task(second)!.error, undefined);
    assert.equal(
      printed.filter((l) => l.startsWith('Changed')),
      ['Changed: src/a.ts; restarting'],
    );
    assert.equal(
      s.logs.find({ persona: 'fake.task' }).map((l) => l.msg),
      ['started 1', 'started 2'],
    );
  } finally {
    await s.close();
  }
});

test('changes made while the app stops join that restart: one start for them all', async () => {
  // Long enough a stop that the changes below surely come while it lasts, however busy the machine.
  const { s } = session({ FAKE_STOP_MS: '2000' });
  try {
    s.start();
    await until(s, 'running', (o) => o.state === 'running');
    const first = s.restart(['src/a.ts']);
    // While the first app takes its 2 s to stop: two more changes, one start for all three.
    await new Promise((resolve) => setTimeout(resolve, 50));
    void s.restart(['src/b.ts']);
    await s.restart(['src/c.ts']);
    await first;
    const o = await until(s, 'settled', (v) => v.state === 'running' && task(v)?.state === 'running');
    await until(s, 'its line', () => s.logs.find({ persona: 'fake.task' }).length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(o.generation, 2);
    assert.equal(o.changed, ['src/a.ts', 'src/b.ts', 'src/c.ts']);
    assert.equal(
      s.logs.find({ persona: 'fake.task' }).map((l) => l.msg),
      ['started 1', 'started 2'],
    );
  } finally {
    await s.close();
  }
});

test('an app that will not start is failed, with its error; the next change starts it again', async () => {
  const env: Record<string, string> = { FAKE_EXIT: '1' };
  const { s, printed } = session(env);
  try {
    s.start();
    const failed = await until(s, 'failed', (o) => o.state === 'failed');
    assert.match(failed.error!, 'fake app: cannot start (1)');
    assert.ok(printed.some((l) => l.includes('waiting for a change')));
    delete env.FAKE_EXIT;
    await s.restart(['src/main.ts']);
    const running = await until(s, 'running after the fix', (o) => o.state === 'running');
    assert.is(running.error, undefined);
  } finally {
    await s.close();
  }
});

test('--local: the build first; a failed build is the app failing; a change during the build builds anew', async () => {
  const build: Record<string, string> = { FAKE_BUILD_MS: '300' };
  const { s } = session({}, build);
  try {
    s.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(s.overview().state, 'starting', 'building');
    // A change while it builds: that build is stopped, and the next one runs the app once.
    await s.restart(['src/main.ts']);
    const running = await until(s, 'running', (o) => o.state === 'running' && task(o)?.state === 'running');
    assert.is(running.generation, 2);
    // Its line comes on standard output, its state over the channel: either may be first.
    await until(s, 'its line', () => s.logs.find({ persona: 'fake.task' }).length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(
      s.logs.find({ persona: 'fake.task' }).map((l) => l.msg),
      ['started 1'],
      'the app started once, after the second build',
    );
  } finally {
    await s.close();
  }
  const failing = session({}, { FAKE_BUILD_EXIT: '1' });
  try {
    failing.s.start();
    const failed = await until(failing.s, 'failed', (o) => o.state === 'failed');
    assert.match(failed.error!, 'the build failed: an invalid tree');
    assert.is(failing.s.logs.find({ persona: 'fake.task' }).length, 0, 'the app was not started');
  } finally {
    await failing.s.close();
  }
});

test.run();
