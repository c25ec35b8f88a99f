/**
 * Cron: a schedule that ticks in one process, a failing run that is logged while the schedule
 * goes on, runNow() for tests, schedules refused at startup, and, deployed, three replicas of
 * one cron on one database that run each tick once, and resume after a stop without running
 * the ticks missed meanwhile (test/fixtures/cron-app).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Cron, rootId, startInProcess, Subscription, Topic, Worker, type Store } from 'infra-generator';
import { errorCodes } from 'infra-generator/internal/core/errors';
import { wiring } from 'infra-generator/internal/core/wiring';
import { rootLogger } from 'infra-generator/internal/core/telemetry/log';
import { startPersona, type PersonaProcess } from './support/persona-process.ts';
import { admin, adminUrl } from './support/pg-admin.ts';

const test = suite('cron');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'cron-app', 'main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a schedule and a time zone that cannot be read stop the app at startup, naming the cron', () => {
  const id = rootId('cron-bad');
  const bad = (schedule: string, timeZone?: string) => {
    try {
      new Cron(id`c-${randomBytes(2).toString('hex')}`, schedule, () => {}, { timeZone });
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error(`"${schedule}" was accepted`);
  };
  const typo = bad('0 25 * * *');
  assert.is(typo.code, errorCodes.INFRA_INVALID_CRON);
  assert.match(typo.message, /^Cron cron-bad\.c-\w+: cannot read the schedule "0 25 \* \* \*"/);
  assert.match(bad('0 3 * * *', 'Mars/Olympus').message, 'in time zone "Mars/Olympus"');
  const paris = new Cron(id`paris`, '0 3 * * *', () => {}, { timeZone: 'Europe/Paris' });
  // 03:00 in Paris in winter is 02:00 UTC.
  assert.equal(paris.nextTicks(1, new Date('2026-12-02T12:00:00Z')), [new Date('2026-12-03T02:00:00Z')]);
});

test('one process: it runs at each tick, a failing run is logged and the schedule goes on; runNow() runs at once', async () => {
  const id = rootId('cron-one');
  const ticks: Date[] = [];
  const cron = new Cron(id`every-second`, '* * * * * *', ({ tick }) => {
    ticks.push(tick);
    if (ticks.length === 2) throw new Error('the second run fails on purpose');
  });
  const run = startInProcess(id);
  const level = rootLogger().level;
  rootLogger().level = 'fatal';
  try {
    void run.start(cron).catch(() => {});
    await sleep(3500);
    assert.ok(ticks.length >= 3, `${ticks.length} runs in 3.5 s`);
    for (const tick of ticks) assert.is(tick.getMilliseconds(), 0, 'each run is for a whole second');
    for (let i = 1; i < ticks.length; i++) assert.is(ticks[i].getTime() - ticks[i - 1].getTime(), 1000);
    const before = ticks.length;
    await cron.runNow();
    assert.is(ticks.length, before + 1);
    const nowId = rootId('cron-now');
    const failing = new Cron(nowId`fails`, '0 0 1 1 *', () => {
      throw new Error('nope');
    });
    const other = startInProcess(nowId);
    try {
      await failing.runNow().then(
        () => assert.unreachable('runNow() rejects with the run error'),
        (err) => assert.match(err.message, 'nope'),
      );
    } finally {
      await other.stop();
    }
  } finally {
    rootLogger().level = level;
    await run.stop();
  }
});

const ticksOf = (processes: PersonaProcess[]) =>
  processes.flatMap((p) =>
    [...p.stdout().matchAll(/^tick (\S+) pid (\d+)$/gm)].map((m) => ({ tick: m[1], pid: m[2] })),
  );

/**
 * Runs the fixture's `persona` as three replicas whose ticks Store is a throwaway database, and
 * `body` once each has said its next tick; `body` may add replicas (started with `env`). All are
 * stopped and the database dropped afterwards.
 */
async function threeReplicas(
  persona: string,
  ticks: Store<any>,
  body: (replicas: PersonaProcess[], env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const database = `cron_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const env = { [wiring.storeUrl(ticks.id)]: url.href };
  const replicas: PersonaProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) replicas.push(await startPersona(FIXTURE, persona, env));
    await Promise.all(replicas.map((r) => r.waitFor('next tick')));
    await body(replicas, env);
  } finally {
    await Promise.all(replicas.map((r) => r.kill()));
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

test('deployed: three replicas on one database run each tick once; ticks missed while all are down are not run', async () => {
  const { ticker } = await import('./fixtures/cron-app/app.ts');
  await threeReplicas('cron-app.ticker', ticker.ticks, async (replicas, env) => {
    await sleep(4500);
    const ticks = ticksOf(replicas);
    assert.ok(ticks.length >= 3, `${ticks.length} runs:\n${replicas.map((r) => r.stdout() + r.stderr()).join('\n')}`);
    const seen = new Map<string, number>();
    for (const { tick } of ticks) seen.set(tick, (seen.get(tick) ?? 0) + 1);
    assert.equal(
      [...seen].filter(([, n]) => n > 1),
      [],
      'no tick ran twice',
    );
    assert.match(replicas.map((r) => r.stderr() + r.stdout()).join(''), 'fails on purpose; the schedule goes on');

    // All down, then one up again: the ticks of the gap are not run, later ones are.
    for (const r of replicas) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
    const stoppedAt = Date.now();
    await sleep(2500);
    const again = await startPersona(FIXTURE, 'cron-app.ticker', env);
    replicas.push(again);
    await again.waitFor('tick ', 2);
    const resumed = ticksOf([again]).map((t) => Date.parse(t.tick));
    const firstAfter = Math.min(...resumed);
    assert.ok(firstAfter > stoppedAt + 2000, 'no tick of the gap was run');
  });
});

test('deployed: a run longer than the interval holds the cron: replicas take turns, never overlap', async () => {
  const { slow } = await import('./fixtures/cron-app/app.ts');
  await threeReplicas('cron-app.slow', slow.ticks, async (replicas) => {
    await sleep(9000);
    const events = replicas
      .flatMap((r) =>
        [...r.stdout().matchAll(/^slow (begin|end) (\d+)/gm)].map((m) => ({ what: m[1], at: Number(m[2]) })),
      )
      .sort((a, b) => a.at - b.at);
    const begins = events.filter((e) => e.what === 'begin').length;
    assert.ok(begins >= 2, `${begins} runs in 9 s:\n${replicas.map((r) => r.stdout()).join('\n')}`);
    let running = 0;
    for (const e of events) {
      running += e.what === 'begin' ? 1 : -1;
      assert.ok(running <= 1, `two runs at once:\n${replicas.map((r) => r.stdout()).join('\n')}`);
    }
  });
});

test('another persona may not run a cron or a subscription as itself', async () => {
  const id = rootId('cron-foreign');
  const cron = new Cron(id`nightly`, '0 3 * * *', () => {});
  const topic = new Topic(id`events`);
  const subscription = new Subscription(id`reader`, topic, () => {});
  const other = new Worker(id`other`, async () => {}, { uses: [] });
  const run = startInProcess(id);
  try {
    const refused = await run.runAs(other, () => cron.runNow()).catch((err) => err);
    assert.is(refused.code, errorCodes.INFRA_RUNS_AS_ANOTHER);
    assert.match(refused.message, 'Persona cron-foreign.other may not call runNow() of Cron cron-foreign.nightly');
    const started = await run.runAs(other, () => subscription.start(new AbortController().signal)).catch((err) => err);
    assert.is(started.code, errorCodes.INFRA_RUNS_AS_ANOTHER);
    await cron.runNow(); // a test, as no persona, may
  } finally {
    await run.stop();
  }
});

test.run();
