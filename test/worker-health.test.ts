/**
 * A deployed worker's health endpoint (what Kubernetes probes and compose's healthcheck ask):
 * with INFRA_HEALTH_PORT set, `GET /healthz` answers 200 while the worker runs and 503 while it
 * finishes after SIGTERM; other paths and methods get 4xx; without the variable (local
 * processes) nothing listens.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './support/free-port.ts';
import { startPersona } from './support/persona-process.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'worker-app', 'main.ts');
const test = suite('worker health');

const get = async (url: string, method = 'GET') => {
  const response = await request(url, { method: method as 'GET' });
  return { status: response.statusCode, body: await response.body.text() };
};

test('200 while running, 503 while finishing after SIGTERM, then exit 0', async () => {
  const port = await freePort();
  const worker = await startPersona(fixture, 'worker-app.ticker', {
    INFRA_HEALTH_PORT: String(port),
    INFRA_LISTEN_HOST: '127.0.0.1',
  });
  try {
    await worker.waitFor('ticker started\n');
    const url = `http://127.0.0.1:${port}`;
    assert.equal(await get(`${url}/healthz`), { status: 200, body: '{"status":"ok","persona":"worker-app.ticker"}' });
    assert.is((await get(`${url}/other`)).status, 404);
    assert.is((await get(`${url}/healthz`, 'POST')).status, 405);
    worker.child.kill('SIGTERM');
    // The worker takes 300 ms to finish: meanwhile the endpoint says so.
    await worker.waitFor('ticker stopping\n');
    const during = await get(`${url}/healthz`);
    assert.equal(during, { status: 503, body: '{"status":"stopping","persona":"worker-app.ticker"}' });
    assert.is(await worker.exited, 0, worker.stderr());
    assert.match(worker.stdout(), 'ticker stopped\n');
    const after = await get(`${url}/healthz`).then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.is(after, 'ECONNREFUSED', 'nothing listens once the worker is gone');
  } finally {
    await worker.kill();
  }
});

test('without INFRA_HEALTH_PORT the worker runs and stops as before; a bad value stops it, naming the variable', async () => {
  const quiet = await startPersona(fixture, 'worker-app.ticker', {});
  try {
    await quiet.waitFor('ticker started\n');
    quiet.child.kill('SIGTERM');
    assert.is(await quiet.exited, 0, quiet.stderr());
  } finally {
    await quiet.kill();
  }
  const bad = await startPersona(fixture, 'worker-app.ticker', { INFRA_HEALTH_PORT: 'eighty' });
  assert.is(await bad.exited, 1);
  assert.match(bad.stderr(), 'Worker worker-app.ticker: INFRA_HEALTH_PORT="eighty" is not a TCP port');
});

test('a deployed worker that returns stays up, idle and healthy, until stopped (no restart loop)', async () => {
  const port = await freePort();
  const worker = await startPersona(fixture, 'worker-app.once', {
    INFRA_HEALTH_PORT: String(port),
    INFRA_LISTEN_HOST: '127.0.0.1',
  });
  try {
    await worker.waitFor('Worker worker-app.once has returned; it stays up, idle, until stopped');
    assert.match(worker.stdout(), 'once: done\n');
    assert.is(worker.child.exitCode, null, 'still running');
    assert.is((await get(`http://127.0.0.1:${port}/healthz`)).status, 200);
    worker.child.kill('SIGTERM');
    assert.is(await worker.exited, 0, worker.stderr());
  } finally {
    await worker.kill();
  }
});

test.run();
