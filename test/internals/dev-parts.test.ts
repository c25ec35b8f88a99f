/**
 * The parts of `npm run dev` on their own: the OTLP/HTTP JSON decoding of the app's spans, the
 * bounded log and trace history, the app's output lines, the watcher's bursts, the command line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spansOfExport } from 'infra-generator/internal/modes/dev/otlp-json';
import { LogHistory, TraceHistory } from 'infra-generator/internal/modes/dev/history';
import { parseLine } from 'infra-generator/internal/modes/dev/app-process';
import { ignored, watchSources } from 'infra-generator/internal/modes/dev/watch';
import { appEnvironment, parseDevArgs } from 'infra-generator/internal/modes/dev/cli';
import { storePage } from 'infra-generator/internal/modes/dev-answers';
import { MemoryStoreBackend } from 'infra-generator/internal/components/store/memory';
import { rootId, Store } from 'infra-generator';

const test = suite('npm run dev: its parts');

const kv = (key: string, value: object) => ({ key, value });
const exportBody = (spans: object[], service = 'my-app') => ({
  resourceSpans: [
    {
      resource: { attributes: [kv('service.name', { stringValue: service })] },
      scopeSpans: [{ scope: { name: 'x' }, spans }],
    },
  ],
});

test('OTLP JSON: ids, kinds, times, status, attributes of every type, events; the persona as the service', () => {
  const [span, ...rest] = spansOfExport(
    exportBody([
      {
        traceId: '5B8EFFF798038103D269B633813FC60C',
        spanId: 'eee19b7ec3c1b174',
        parentSpanId: 'eee19b7ec3c1b173',
        name: 'GET /api/customer',
        kind: 2,
        startTimeUnixNano: '1544712660000000000',
        endTimeUnixNano: '1544712661500000000',
        status: { code: 2, message: 'boom' },
        attributes: [
          kv('http.route', { stringValue: '/api/customer' }),
          kv('http.response.status_code', { intValue: '500' }),
          kv('ok', { boolValue: false }),
          kv('ratio', { doubleValue: 0.5 }),
          kv('list', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }] } }),
          kv('infra.persona.id', { stringValue: 'my-app.api' }),
        ],
        events: [
          {
            name: 'exception',
            timeUnixNano: '1544712660500000000',
            attributes: [kv('exception.type', { stringValue: 'Error' })],
          },
        ],
      },
      // Skipped: no trace ID, a malformed span ID, no name.
      { spanId: 'eee19b7ec3c1b174', name: 'x' },
      { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'zz', name: 'x' },
      { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b175' },
    ]),
  );
  assert.equal(rest, []);
  assert.equal(span, {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    parentSpanId: 'eee19b7ec3c1b173',
    name: 'GET /api/customer',
    kind: 'server',
    service: 'my-app.api',
    start: 1544712660000,
    end: 1544712661500,
    status: 'error',
    statusMessage: 'boom',
    attributes: {
      'http.route': '/api/customer',
      'http.response.status_code': 500,
      ok: false,
      ratio: 0.5,
      list: ['a', 2],
      'infra.persona.id': 'my-app.api',
    },
    events: [{ name: 'exception', time: 1544712660500, attributes: { 'exception.type': 'Error' } }],
  });
  // Base64 IDs (the protobuf JSON mapping's) are read as hex; no persona: the service name.
  const [other] = spansOfExport(
    exportBody(
      [
        {
          traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex').toString('base64'),
          spanId: Buffer.from('eee19b7ec3c1b174', 'hex').toString('base64'),
          name: 'n',
        },
      ],
      'svc',
    ),
  );
  assert.is(other!.traceId, '5b8efff798038103d269b633813fc60c');
  assert.is(other!.spanId, 'eee19b7ec3c1b174');
  assert.is(other!.service, 'svc');
  assert.is(other!.kind, 'internal');
  for (const junk of [
    undefined,
    null,
    1,
    'x',
    {},
    { resourceSpans: 'x' },
    { resourceSpans: [null, { scopeSpans: [null] }] },
  ])
    assert.equal(spansOfExport(junk), []);
});

test('the trace history: a summary per trace (its root), newest first, bounded', () => {
  const history = new TraceHistory(2);
  const span = (traceId: string, spanId: string, start: number, parentSpanId?: string) => ({
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: `${traceId}-${spanId}`,
    kind: 'internal' as const,
    service: 's',
    start,
    end: start + 10,
    status: spanId === 'bad' ? ('error' as const) : ('unset' as const),
    attributes: {},
    events: [],
  });
  assert.equal(history.add([span('t1', 'child', 5, 'root'), span('t2', 'a', 100)]), ['t1', 't2']);
  // The root not yet arrived: the earliest span stands for the trace.
  assert.is(history.summary('t1')!.name, 't1-child');
  history.add([span('t1', 'root', 0), span('t1', 'bad', 7, 'root')]);
  assert.equal(history.summary('t1'), {
    traceId: 't1',
    name: 't1-root',
    service: 's',
    start: 0,
    durationMs: 17,
    spanCount: 3,
    error: true,
  });
  assert.equal(
    history.summaries().map((s) => s.traceId),
    ['t2', 't1'],
  );
  assert.equal(
    history.get('t1')!.spans.map((s) => s.spanId),
    ['root', 'child', 'bad'],
  );
  history.add([span('t3', 'a', 50)]);
  assert.is(history.get('t1'), undefined, 'the oldest trace is forgotten past the bound');
});

test('the log history: filters by persona, lowest level and text; the newest lines within the limit; bounded', () => {
  const logs = new LogHistory(3);
  const line = (msg: string, level: 'info' | 'warn' | 'error', persona?: string) =>
    logs.add({ time: 0, level, msg, fields: { orderId: msg.length }, ...(persona ? { persona } : {}) });
  line('one', 'info', 'a');
  line('two', 'warn', 'b');
  line('three', 'error', 'a');
  line('four', 'info');
  assert.equal(
    logs.find().map((l) => l.msg),
    ['two', 'three', 'four'],
  );
  assert.equal(
    logs.find().map((l) => l.seq),
    [2, 3, 4],
  );
  assert.equal(
    logs.find({ persona: 'a' }).map((l) => l.msg),
    ['three'],
  );
  assert.equal(
    logs.find({ level: 'warn' }).map((l) => l.msg),
    ['two', 'three'],
  );
  assert.equal(
    logs.find({ q: 'THR' }).map((l) => l.msg),
    ['three'],
  );
  assert.equal(
    logs.find({ q: '"orderId":4' }).map((l) => l.msg),
    ['four'],
    'fields are searched too',
  );
  assert.equal(
    logs.find({ limit: 1 }).map((l) => l.msg),
    ['four'],
  );
});

test("the app's output: pino's JSON lines with their fields; any other line as text", () => {
  const line = parseLine(
    JSON.stringify({
      level: 'warn',
      time: '2026-12-01T08:00:00.123Z',
      app: 'my-app',
      persona: 'p',
      component: 'c',
      trace_id: 't',
      span_id: 's',
      trace_flags: '01',
      endpoint: 'GET /x',
      msg: 'slow',
    }),
    'info',
  );
  assert.equal(line, {
    time: Date.parse('2026-12-01T08:00:00.123Z'),
    level: 'warn',
    persona: 'p',
    component: 'c',
    msg: 'slow',
    traceId: 't',
    spanId: 's',
    fields: { endpoint: 'GET /x' },
  });
  for (const text of ['Error: boom', '{not json', '{"level":"loud","msg":"x"}', '{"msg":"no level"}']) {
    const plain = parseLine(text, 'error');
    assert.is(plain.msg, text);
    assert.is(plain.level, 'error');
  }
});

test("the watcher: a burst of saves is one change; the build's files and editors' scratch files are not the app's sources", async () => {
  assert.ok(ignored('build/x.ts'));
  assert.not.ok(ignored('src/build/x.ts'), "a folder of the sources named build is the app's");
  assert.ok(ignored('node_modules/a/b.js'));
  assert.ok(ignored('src/.main.ts.swp'));
  assert.ok(ignored('src/main.ts~'));
  assert.not.ok(ignored('src/components/builder.ts'));
  const root = mkdtempSync(join(tmpdir(), 'dev-watch-'));
  mkdirSync(join(root, 'src', 'deep'), { recursive: true });
  const bursts: string[][] = [];
  const watcher = watchSources({
    folders: [join(root, 'src')],
    root,
    quietMs: 150,
    maxWaitMs: 1_000,
    changed: (f) => bursts.push(f),
    failed: (err) => assert.unreachable(err.message),
  });
  try {
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(root, 'src', 'main.ts'), `// ${i}`);
      writeFileSync(join(root, 'src', 'deep', 'part.ts'), `// ${i}`);
      writeFileSync(join(root, 'src', 'main.ts.swp'), `// ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(bursts, [['src/deep/part.ts', 'src/main.ts']]);
  } finally {
    watcher.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('the command line: strict, with help; the app sends its spans to the dashboard with the token, in one process', () => {
  assert.equal(parseDevArgs([]), { entry: 'src/main.ts', local: false, port: undefined, help: false });
  assert.equal(parseDevArgs(['app.ts', '--port', '4000', '--local']), {
    entry: 'app.ts',
    local: true,
    port: 4000,
    help: false,
  });
  assert.is(parseDevArgs(['-h']).help, true);
  assert.throws(() => parseDevArgs(['--prot', '1']), /Unknown option '--prot'[\s\S]*Usage: npm run dev/);
  assert.throws(() => parseDevArgs(['--port', 'x']), /--port needs a port number/);
  assert.throws(() => parseDevArgs(['a.ts', 'b.ts']), /one entry module/);
  const env = appEnvironment(
    { PERSONA: 'build', OTEL_SDK_DISABLED: 'true', PATH: '/bin' },
    'http://127.0.0.1:1',
    'tok',
  );
  assert.is(env.PERSONA, undefined);
  assert.is(env.OTEL_SDK_DISABLED, undefined);
  assert.is(env.PATH, '/bin');
  assert.is(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://127.0.0.1:1');
  assert.is(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/json');
  assert.is(env.OTEL_EXPORTER_OTLP_HEADERS, 'authorization=Bearer tok');
  assert.is(env.LOG_FORMAT, 'json');
  assert.is(appEnvironment({}, 'http://127.0.0.1:1', 'tok', 'local').PERSONA, 'local');
});

test("a Store's pages, and its index's entries (made by its indexer), in order, paged by the last row shown", async () => {
  const root = rootId('pages');
  const store = new Store<{ tags: string[] }>(root`orders`);
  const byTag = new store.Index(root`orders-by-tag`, (value: { tags: string[] }) =>
    value.tags.map((tag) => ({ indexKey: tag, inlineValue: tag.length })),
  );
  const backend = new MemoryStoreBackend(store.indexes);
  await backend.set('o1', { tags: ['b', 'a'] });
  await backend.set('o2', { tags: ['a'] });
  await backend.set('o3', { tags: [] });
  const app = store.app;
  const page = (query: object) => storePage(app, () => backend, { store: store.id.value, limit: 2, ...query } as never);
  assert.equal(await page({ op: 'entries' }), {
    entries: [
      ['o1', { tags: ['b', 'a'] }],
      ['o2', { tags: ['a'] }],
    ],
    next: 'o2',
  });
  assert.equal(await page({ op: 'entries', after: 'o2' }), { entries: [['o3', { tags: [] }]] });
  const first = (await page({ op: 'index', index: byTag.id.value })) as { entries: unknown[]; next: string };
  assert.equal(first.entries, [
    { indexKey: 'a', key: 'o1', inlineValue: 1 },
    { indexKey: 'a', key: 'o2', inlineValue: 1 },
  ]);
  assert.equal(await page({ op: 'index', index: byTag.id.value, after: first.next }), {
    entries: [{ indexKey: 'b', key: 'o1', inlineValue: 1 }],
  });
  // The row the cursor names has gone meanwhile: the next page still starts after it.
  await backend.set('o2', undefined);
  assert.equal(await page({ op: 'index', index: byTag.id.value, after: first.next }), {
    entries: [{ indexKey: 'b', key: 'o1', inlineValue: 1 }],
  });
  for (const [query, status] of [
    [{ op: 'entries', store: 'nope' }, 404],
    [{ op: 'index', index: 'nope' }, 404],
    [{ op: 'index', index: byTag.id.value, after: 'not a cursor' }, 400],
  ] as const) {
    const err = await page(query).then(
      () => undefined,
      (e: { status?: number }) => e,
    );
    assert.is(err?.status, status, JSON.stringify(query));
  }
});

test.run();
