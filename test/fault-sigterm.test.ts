/**
 * SIGTERM while calls are in flight (what `docker compose stop` sends): the API persona process
 * stops accepting at once, lets every call in flight finish (their Store writes included, so
 * the stores close after the server), and exits 0. test/deployed-persona.test.ts checks an
 * idle server's exit; test/internals/api-http.test.ts one in-process call on abort.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request } from 'undici';
import { freePort } from './support/free-port.ts';
import { faultIds, startFaultApi, type FaultApi } from './support/fault-app.ts';

import { adminUrl } from './support/pg-admin.ts';
import { connected } from './support/pg-query.ts';
const IN_FLIGHT = 20;

const admin = <T>(fn: (client: pg.Client) => Promise<T>) => connected(adminUrl, fn);

/** Whether a new TCP connection to `port` is refused right now. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('SIGTERM with calls in flight: new connections are refused, every call in flight completes and is stored, the process exits 0', async () => {
  const database = `fault_sigterm_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'infra-fault-sigterm-'));
  const release = join(dir, 'release');
  await admin((c) => c.query(`CREATE DATABASE ${database}`));
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${database}`;
  let api: FaultApi | undefined;
  try {
    const port = await freePort();
    api = await startFaultApi(port, dbUrl.toString(), randomBytes(16).toString('hex'));
    const before = await api.put({ key: 'before', n: -1 });
    assert.is(before.status, 200, before.text);

    const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) =>
      api!.put({ key: `in-flight-${i}`, n: i, hold: release }),
    );
    // Awaited below; should an assertion before that fail, the pool's end (in finally) rejects
    // them, and that must not hide which assertion it was.
    for (const call of inFlight) call.catch(() => {});
    await api.persona.waitFor('started in-flight-', IN_FLIGHT);
    api.persona.child.kill('SIGTERM');

    // The listener closes at once (polled for up to 5 s: a loaded machine may take a moment to
    // deliver the signal); the calls are still held by the fixture.
    let closed = false;
    for (const deadline = Date.now() + 5_000; !closed && Date.now() < deadline;) {
      closed = await refused(port);
      if (!closed) await sleep(10);
    }
    assert.ok(closed, 'new connections are refused after SIGTERM');
    const fresh = await request(`${api.url}/entry?arg=%22before%22`).catch(
      (err: unknown) => err as Error & { code?: string },
    );
    assert.instance(fresh, Error, 'a new request after SIGTERM gets no answer');
    assert.is((fresh as { code?: string }).code, 'ECONNREFUSED');
    assert.is(api.persona.child.exitCode, null, 'the process waits for the calls in flight');
    assert.not.ok(existsSync(release));

    writeFileSync(release, '');
    const answers = await Promise.all(inFlight);
    answers.forEach((answer, i) => {
      assert.is(answer.status, 200, answer.text);
      assert.equal(answer.body, { stored: `in-flight-${i}` });
    });
    assert.is(await api.persona.exited, 0, api.persona.stderr());
    assert.is(api.persona.stderr(), '');

    // Every acknowledged write is in the database: the store closed after the server.
    const rows = await connected(dbUrl.toString(), (c) =>
      c.query<{ key: string; value: string }>(
        `SELECT key, value::text AS value FROM ${faultIds.db.sqlName} ORDER BY key`,
      ),
    );
    const stored = new Map(rows.rows.map((r) => [r.key, JSON.parse(r.value) as { n: number }]));
    assert.equal(stored.get('before'), { n: -1 });
    for (let i = 0; i < IN_FLIGHT; i++) assert.equal(stored.get(`in-flight-${i}`), { n: i }, `in-flight-${i}`);
    assert.is(stored.size, IN_FLIGHT + 1);
  } finally {
    writeFileSync(release, '');
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  }
});

test.run();
