/**
 * How log lines are written: logFlat (the access line's path) writes what pino would, with the
 * same context fields, also into the bytes of the runtime's own destination; standard output
 * loses no line and keeps their order, also behind a reader that is slow to read, and errors
 * go to standard error; a reader gone or a full disk drops lines, says so on standard error,
 * and never stops the writer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as api from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import { rootId, ApiServer } from 'infra-generator';
import { runAs, appOf } from 'infra-generator/internal/core/app';
import { logFlat, rootLogger, setUpLogging } from 'infra-generator/internal/core/telemetry/log';
import { Blocks, linesTo } from 'infra-generator/internal/core/telemetry/line-writer';
import { ROOT } from 'infra-generator/internal/core/telemetry/context';
import { CheckedSpanContext } from 'infra-generator/internal/core/telemetry/span-context';
import { withLogScope } from 'infra-generator/internal/core/telemetry/scope';
import { recordTelemetry } from '../support/telemetry.ts';

const test = suite('log lines');

test('logFlat writes the JSON pino writes for the same fields, context fields included', async () => {
  const rec = await recordTelemetry();
  try {
    const id = rootId('shop');
    const api = new ApiServer(id`api`);
    const fields = {
      component: 'shop.api',
      method: 'POST',
      route: '/a"b\\c',
      status: 200,
      durationMs: 0.125,
      requestId: 'r\n1',
      gone: undefined,
    };
    const message = 'POST /a"b 200 0.1 ms — ünïcode';
    await runAs(appOf(id), api, () =>
      withLogScope({ endpoint: 'POST /orders', requestId: 'outer' }, () =>
        trace.getTracer('test').startActiveSpan('work', (span) => {
          logFlat('info', fields, message);
          rootLogger().info(fields, message);
          logFlat('debug', fields, message);
          rootLogger().debug(fields, message);
          span.end();
        }),
      ),
    );
    assert.is(rec.text.length, 4);
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"-"');
    assert.is(withoutTime(rec.text[0]), withoutTime(rec.text[1]));
    assert.is(withoutTime(rec.text[2]), withoutTime(rec.text[3]));
    const line = rec.lines[0];
    assert.is(line.persona, 'shop.api');
    assert.is(line.endpoint, 'POST /orders');
    assert.is(line.requestId, 'r\n1', "the line's own field over the scope's");
    assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.not.ok('gone' in line);
  } finally {
    await rec.stop();
  }
});

test("logFlat writes into the blocks of the runtime's own destination what pino writes there", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-lines-'));
  const out = openSync(join(dir, 'out'), 'w+');
  const err = openSync(join(dir, 'err'), 'w+');
  const blocks = new Blocks(out);
  // pino's lines come through the destination's write; logFlat's must not (written in place).
  const destination = linesTo(blocks, err);
  const write = destination.write.bind(destination);
  let written = 0;
  destination.write = (line: string) => (written++, write(line));
  const startedAt = Date.now();
  // A tracer and a context manager; the lines to the destination below, not to the recording.
  const rec = await recordTelemetry();
  const restore = await setUpLogging({
    level: 'debug',
    format: 'json',
    app: 'shöp',
    persona: 'shop.task',
    destination,
  });
  try {
    const id = rootId('shop');
    const server = new ApiServer(id`api`);
    const cases: [Record<string, string | number | undefined>, string][] = [
      [
        { component: 'shop.api', method: 'POST', route: '/orders', status: 200, durationMs: 0.125, requestId: 'r1' },
        'plain',
      ],
      [
        { route: '/a"b\\c\u0001', requestId: 'r\n1', note: 'ünïcode \ud83d\ude00', dir: 'C:\\dir', 'a "key"': 'v' },
        'escapes — ü',
      ],
      [{ nan: NaN, inf: -Infinity, zero: -0, big: 1e21, small: 5e-7, gone: undefined }, 'numbers'],
      // The line's own fields of the mixin's names, one of them undefined: in the mixin's places, or left out.
      [{ trace_id: 'mine', persona: 'p', endpoint: undefined, span_id: undefined, extra: 1 }, 'overrides'],
      [{ '2': 'an index-like key', a: 'after it' }, 'key order'],
      [{ long: 'x'.repeat(40_000) }, 'a line longer than a block'],
    ];
    const both = (traceContext?: api.Context) => {
      for (const [fields, message] of cases) {
        logFlat('info', fields, message, traceContext);
        if (traceContext === undefined) rootLogger().info(fields, message);
        else api.context.with(traceContext, () => rootLogger().info(fields, message));
      }
      logFlat('debug', cases[0][0], 'debug');
      rootLogger().debug(cases[0][0], 'debug');
    };
    // Outside any persona; as a persona, in a log scope, in an active span; in a trace given.
    both();
    await runAs(appOf(id), server, () =>
      withLogScope({ component: 'shop.api', endpoint: 'POST /orders', requestId: 'outer' }, () =>
        trace.getTracer('test').startActiveSpan('work', (span) => {
          both();
          span.end();
        }),
      ),
    );
    both(
      trace.setSpanContext(ROOT, new CheckedSpanContext('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 0x11)),
    );
    // A value that cannot be written (from plain JavaScript) fails the call, and takes its line back whole.
    const unwritable = {
      toJSON: () => {
        throw new Error('cannot be written');
      },
    } as unknown as string;
    assert.throws(() => logFlat('info', { component: 'shop.api', bad: unwritable }, 'never'));
    blocks.flush();
    const lines = readFileSync(join(dir, 'out'), 'utf8').trimEnd().split('\n');
    assert.is(lines.length, 3 * 2 * (cases.length + 1));
    // pino's lines, and logFlat's of the index-like key (the string path, in each of the three contexts).
    assert.is(written, 3 * (cases.length + 1) + 3, "logFlat's other lines were written into the blocks");
    const endedAt = Date.now();
    for (const line of lines) {
      const time = Date.parse(String((JSON.parse(line) as { time: string }).time));
      if (!(time >= startedAt && time <= endedAt)) assert.unreachable(`a line's time is not now: ${line.slice(0, 80)}`);
    }
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"-"');
    for (let i = 0; i < lines.length; i += 2) assert.is(withoutTime(lines[i]), withoutTime(lines[i + 1]));
    const traced = JSON.parse(lines[4 * (cases.length + 1)]) as Record<string, unknown>;
    assert.is(traced.trace_flags, '11');
    assert.is(traced.span_id, 'b7ad6b7169203331');
    const inScope = JSON.parse(lines[2 * (cases.length + 1)]) as Record<string, unknown>;
    assert.is(inScope.persona, 'shop.api');
    assert.is(inScope.requestId, 'r1');
    assert.match(String(inScope.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(inScope.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.is((JSON.parse(lines[10]) as { long: string }).long.length, 40_000);
    assert.is(readFileSync(join(dir, 'err'), 'utf8'), '');
  } finally {
    restore();
    await rec.stop();
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs `script` (ES module text) with LOG_LEVEL info; its output, read only after `readAfterMs`. */
async function run(script: string, readAfterMs: number): Promise<{ out: string; err: string; code: number | null }> {
  const child = spawn(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const closed = new Promise((resolve) => child.stdout.once('close', resolve));
  child.stdout.pause();
  await sleep(readAfterMs);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  child.stdout.resume();
  const code = await exited;
  await closed;
  return { out, err, code };
}

const writer = (exit: string) => `
  import { setUpLogging, rootLogger } from 'infra-generator/internal/core/telemetry/log';
  await setUpLogging({ level: 'info', format: 'json', app: 'lines' });
  process.stdout; // Node's own stream on the same descriptor (console.log's): it may make it non-blocking
  const log = rootLogger();
  for (let i = 0; i < 20000; i++) {
    log.info({ i, pad: 'x'.repeat(i % 97) }, 'line ' + i);
    if (i === 10000) log.error({ i }, 'an error in the middle');
  }
  ${exit}
`;

for (const [how, exit] of [
  ['returning', ''],
  ['calling process.exit()', 'process.exit(3)'],
] as const)
  test(`every line reaches standard output, whole and in order, behind a slow reader (${how})`, async () => {
    // 20k lines are about 2 MB: far more than a pipe holds, so the writer waits for the reader.
    const { out, err, code } = await run(writer(exit), 500);
    assert.is(code, exit ? 3 : 0);
    const lines = out.trimEnd().split('\n');
    assert.is(lines.length, 20000);
    lines.forEach((text, i) => {
      const line = JSON.parse(text) as { i: number; level: string };
      if (line.i !== i) assert.unreachable(`line ${i} is ${text.slice(0, 80)}`);
    });
    const errors = err.trimEnd().split('\n');
    assert.is(errors.length, 1);
    assert.equal(
      { level: 'error', i: 10000 },
      (({ level, i }) => ({ level, i }))(JSON.parse(errors[0]) as { level: string; i: number }),
    );
  });

/**
 * A process that writes `count` info lines, flushes them, writes the error line `last`, then
 * `survived` on standard error; standard output goes to `stdout`. Resolves once it has ended
 * and its standard error is read.
 */
function linesThenError(count: number, last: string, stdout: 'pipe' | number) {
  const script = `
    import { setUpLogging, rootLogger } from 'infra-generator/internal/core/telemetry/log';
    import { flushStandardOutput } from 'infra-generator/internal/core/telemetry/line-writer';
    await setUpLogging({ level: 'info', format: 'json', app: 'lines' });
    const log = rootLogger();
    for (let i = 0; i < ${count}; i++) log.info({ i, pad: 'x'.repeat(50) }, 'line ' + i);
    flushStandardOutput();
    log.error(${JSON.stringify(last)});
    process.stderr.write('survived\\n');
  `;
  const child = spawn(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const ended = new Promise<{ code: number | null; err: string; lines: string[] }>((resolve) =>
    child.once('close', (code) => resolve({ code, err, lines: err.trimEnd().split('\n') })),
  );
  return { child, ended };
}

test('a reader that goes away: lines are dropped, said once on standard error, and the writer goes on', async () => {
  const last = 'an error after standard output was lost';
  // Until the parent closes its end: then each block's write fails with EPIPE.
  const { child, ended } = linesThenError(200_000, last, 'pipe');
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  child.stdout!.destroy();
  const { code, err, lines } = await ended;
  assert.is(code, 0, err);
  const notices = lines.filter((line) => line.includes('dropped'));
  assert.is(notices.length, 1, err);
  assert.match(notices[0], /standard output are dropped from now on: its reader is gone \(EPIPE\)/);
  assert.ok(
    lines.some((line) => line.includes(last)),
    err,
  );
  assert.is(lines.at(-1), 'survived');
});

test('a full disk: the lines that do not fit are dropped, said at most once a minute, and the writer goes on', async () => {
  // /dev/full takes nothing: every write fails with ENOSPC, as on a full disk.
  const full = openSync('/dev/full', 'w');
  try {
    const last = 'an error on a full disk';
    const { code, err, lines } = await linesThenError(20_000, last, full).ended;
    assert.is(code, 0, err);
    const notices = lines.filter((line) => line.includes('dropped'));
    assert.is(notices.length, 1, err);
    const notice = JSON.parse(notices[0]) as { level: string; time: string; msg: string };
    assert.is(notice.level, 'error');
    assert.match(notice.time, /^\d{4}-\d\d-\d\dT/);
    assert.match(notice.msg, /standard output were dropped: writing to it failed \(ENOSPC\)/);
    assert.ok(
      lines.some((line) => line.includes(last)),
      err,
    );
    assert.is(lines.at(-1), 'survived');
  } finally {
    closeSync(full);
  }
});

test.run();
