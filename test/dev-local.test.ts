/**
 * `npm run dev -- --local`: the build, then every persona as its own process on the test's
 * PostgreSQL, told to the dashboard as in one process: the states, the logs with their persona,
 * one trace across the client's and the server's processes, a call over HTTP with the token, a
 * Store read from its database; an edit rebuilds and restarts them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine, TraceView } from 'infra-generator/internal/modes/dev-dashboard-api';
import { adminUrl, dropStarterLocalDatabase } from './support/pg-admin.ts';
import { startDevLoop, type DevLoop } from './support/dev-loop.ts';

const test = suite<{ dev: DevLoop }>('npm run dev -- --local');

const API = 'my-app.customer-server.api';
const CLIENT = 'my-app.example-client';

test.before(async (context) => {
  context.dev = await startDevLoop(['--local'], { INFRA_LOCAL_PG_URL: adminUrl });
});
test.after(async ({ dev }) => {
  if (!dev) return;
  const buildDir = dev.project.buildDir;
  assert.is(await dev.stop(), 0);
  assert.equal(dev.leftovers(), [], 'no persona process is left');
  await dropStarterLocalDatabase(buildDir);
});

test('built, then each persona in its own process: states, lines, one trace across both processes', async ({ dev }) => {
  const overview = await dev.until(
    'the task has finished',
    async () => {
      const o = await dev.overview();
      return o.personas.find((p) => p.id === CLIENT)?.state === 'finished' && o;
    },
    60_000,
  );
  assert.is(overview.mode, 'local');
  assert.equal(
    overview.personas.map((p) => [p.id, p.state, p.exitCode]),
    [
      [API, 'healthy', undefined],
      [CLIENT, 'finished', 0],
    ],
  );
  assert.match(dev.output(), 'Wrote compose.yaml', 'the build ran first');
  const line = await dev.until(
    'the line is logged',
    async () => (await dev.api<{ lines: LogLine[] }>(`/api/logs?persona=${CLIENT}&q=Loaded customer`)).body.lines[0],
  );
  assert.is(line.msg, 'Loaded customer: {"id":"1","name":"John Doe"}');
  // The server's own process writes its lines in blocks, each within 100 ms: the access line may
  // reach the dev loop after the task's.
  const access = await dev.until("the server's access line, under its persona", async () => {
    const { lines } = (await dev.api<{ lines: LogLine[] }>(`/api/logs?persona=${API}&q=GET /api/customer`)).body;
    return lines.length > 0 && lines;
  });
  assert.ok(access.length > 0);
  // A persona process's console.log is a plain line (no trace ID there): the task's trace by its name.
  const spans = await dev.until('both processes have sent their spans', async () => {
    const { body: list } = await dev.api<{ traces: { traceId: string; name: string }[] }>('/api/traces');
    const traceId = list.traces.find((t) => t.name === `deploy ${CLIENT}`)?.traceId;
    const { body } = await dev.api<TraceView>(`/api/traces/${traceId}`);
    return body.spans?.some((s) => s.service === API && s.kind === 'server') && body.spans;
  });
  assert.ok(spans.some((s) => s.service === CLIENT && s.name === 'POST /api/customer' && s.kind === 'client'));
  assert.ok(spans.some((s) => s.service === API && s.name === 'set my-app.customer-server.db'));
});

test('the API explorer calls over HTTP with the token; the Store is read from its database', async ({ dev }) => {
  const call = (arg: string) =>
    dev.api('/api/call', {
      method: 'POST',
      body: JSON.stringify({ server: API, method: 'GET', route: '/api/customer', arg }),
    });
  const found = await call('"1"');
  assert.equal([found.body.status, found.body.answer], [200, { id: '1', name: 'John Doe' }]);
  const trace = await dev.until('the call is traced', async () => {
    const { status, body } = await dev.api<TraceView>(`/api/traces/${found.body.traceId}`);
    return status === 200 && body.spans.some((s) => s.kind === 'server') && body;
  });
  assert.ok(trace.spans.some((s) => s.name === 'get my-app.customer-server.db'));
  const bad = await call('1');
  assert.is(bad.body.status, 400);
  assert.match(bad.body.error, 'Invalid argument');
  assert.equal((await dev.api('/api/stores/my-app.customer-server.db/entries')).body, {
    entries: [['1', { id: '1', name: 'John Doe' }]],
  });
});

test('an edit rebuilds and restarts every persona', async ({ dev }) => {
  const main = join(dev.project.starter, 'src', 'main.ts');
  const before = (await dev.overview()).generation;
  writeFileSync(main, readFileSync(main, 'utf8').replace('Loaded customer: ', 'Loaded the customer: '));
  const after = await dev.until(
    'restarted',
    async () => {
      const o = await dev.overview();
      return o.generation > before && o.personas.find((p) => p.id === CLIENT)?.state === 'finished' && o;
    },
    60_000,
  );
  assert.equal(
    after.personas.map((p) => p.restarts),
    [1, 1],
  );
  await dev.until(
    'the edited line',
    async () => (await dev.api<{ lines: LogLine[] }>('/api/logs?q=Loaded the customer')).body.lines.length > 0,
  );
});

test.run();
