/**
 * Cron: a persona that runs a function on a schedule (cron syntax, in a time zone). It is a
 * scheduler persona, not a Kubernetes CronJob: compose has no CronJob, so one mechanism serves
 * every mode, runs to the second, and starts no pod per tick.
 *
 * However many replicas run it, a tick runs at most once: before running, a replica claims the
 * tick in the cron's own Store (`<id>.ticks`, one key holding the last tick claimed and the
 * lease of its run, written by an atomic modify()), and only the replica whose claim is written
 * runs it. A run holds the lease while it goes on, so a run still going at the next tick makes
 * that tick skipped in every replica, not overlapped. A tick that came due while no replica ran
 * is not run later (a cron resumes at its next tick). A failing run is logged with its error and
 * the schedule goes on.
 */
import { randomUUID } from 'node:crypto';
import { ROOT } from '../../core/telemetry/context.ts';
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { brand, hasBrand } from '../../core/brands.ts';
import { Persona, type PersonaOptions } from '../../core/persona.ts';
import type { ID } from '../../core/id.ts';
import { runAs } from '../../core/app.ts';
import { assertRunsAsItself } from '../../core/access.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { log } from '../../core/telemetry/log.ts';
import { inSpan, SpanKind } from '../../core/telemetry/tracing.ts';
import { ATTR_CRON_TICK } from '../../core/telemetry/attributes.ts';
import { Store } from '../store/store.ts';

const NO_ATTRIBUTES = Object.freeze({});

export interface CronContext {
  /** The tick this run is for (for runNow(), the time it was called). */
  readonly tick: Date;
  /** Aborts when the cron stops (Ctrl-C, SIGTERM): finish or give up then. */
  readonly signal: AbortSignal;
}

export type CronFunction = (context: CronContext) => void | Promise<void>;

export interface CronOptions extends PersonaOptions {
  /** The IANA time zone the schedule is read in (default `UTC`), e.g. `Europe/Paris`. */
  timeZone?: string;
}

/**
 * What the cron's Store keeps: the last tick claimed, by which process, and until when its run
 * holds the lease (0 once it has ended).
 */
interface Claim {
  readonly tick: number;
  readonly by: string;
  readonly leaseUntil: number;
}

/**
 * A run's lease on the cron: renewed every third of it while the run goes on, so a replica that
 * dies holding it blocks the cron's later ticks for at most this long.
 */
const LEASE_MS = 60_000;
/** A tick noticed later than this (a paused VM, a stalled event loop) is skipped, not run late. */
const LATE_MS = 60_000;

/** setTimeout takes at most this many milliseconds (about 24.8 days); longer waits wait again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Cron extends Persona {
  /** Whether `value` is a Cron (of any copy of this package). */
  static isCron(value: unknown): value is Cron {
    return hasBrand(value, 'Cron');
  }

  readonly lifecycle = 'worker';
  /** The schedule, as given: 5 fields (minute precision) or 6 (the first is seconds). */
  readonly schedule: string;
  readonly timeZone: string;
  /** Where replicas claim ticks (a Store of the cron's own, deployed in its own database). */
  readonly ticks: Store<Claim>;
  /** Private, so no other persona can replace what this one runs (and with its rights). */
  readonly #fn: CronFunction;
  #running: Promise<void> | undefined;

  constructor(id: ID, schedule: string, fn: CronFunction, options: CronOptions = {}) {
    super(id, 'Cron', options);
    if (typeof fn !== 'function')
      throw errors.notAFunction(this.kind, id.value, 'Cron takes a function ({ tick, signal }) => Promise<void>');
    const timeZone = options.timeZone ?? 'UTC';
    if (typeof schedule !== 'string' || typeof timeZone !== 'string')
      throw errors.invalidCron(id.value, String(schedule), String(timeZone), 'the schedule and time zone are strings');
    try {
      // Parsed now, at startup: a typo stops the app before it runs, naming the cron.
      parse(schedule, timeZone, new Date()).next();
    } catch (err) {
      throw errors.invalidCron(id.value, schedule, timeZone, messageOf(err));
    }
    this.schedule = schedule;
    this.timeZone = timeZone;
    this.#fn = fn;
    this.ticks = new Store<Claim>(id.child('ticks'));
  }

  /** The next ticks after `from` (default now), for a test or a log line. */
  nextTicks(count = 1, from: Date = new Date()): Date[] {
    const expression = parse(this.schedule, this.timeZone, from);
    return Array.from({ length: count }, () => expression.next().toDate());
  }

  /**
   * Runs the function now, as the cron (its rights, its log lines), outside the schedule and
   * without claiming a tick: for tests, and for the cron's own code. Another persona may not
   * (it would run with the cron's rights, which deployed it does not have). Rejects with the
   * run's error.
   */
  async runNow(): Promise<void> {
    this.assertPhase('runNow()', 'runtime');
    assertRunsAsItself(this, 'runNow()');
    await this.#run(new Date(), new AbortController().signal, false);
  }

  /** Runs the schedule until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const instance = randomUUID();
    // Started afresh, so the first tick is the one after now: a tick missed while down is not run.
    let next = await this.#nextTick(new Date(), signal);
    if (next)
      log.info(
        { component: this.id.value },
        `Cron ${this.id.value}: "${this.schedule}" (${this.timeZone}); next tick ${next.toISOString()}`,
      );
    while (next && !signal.aborted) {
      await sleepUntil(next, signal);
      if (signal.aborted) break;
      const tick = next;
      // The tick after this one, from the tick itself (a slow claim or run does not shift the
      // schedule), or from now when this one is late (missed ticks are not made up).
      next = await this.#nextTick(new Date(Math.max(tick.getTime(), Date.now())), signal);
      if (Date.now() - tick.getTime() > LATE_MS) {
        log.warn(
          { component: this.id.value },
          `Cron ${this.id.value}: the tick of ${tick.toISOString()} came ${Math.round((Date.now() - tick.getTime()) / 1000)} s late (the process was paused or busy); it is skipped`,
        );
        continue;
      }
      if (this.#running) {
        log.warn(
          { component: this.id.value },
          `Cron ${this.id.value}: the run of an earlier tick is still going; the tick of ${tick.toISOString()} is skipped`,
        );
        continue;
      }
      this.#tick(tick, instance, signal);
    }
    await this.#running;
  }

  /**
   * The first tick after `from`, strictly later than it. cron-parser can answer a time at or
   * before `from` around some zones' clock changes (Lord Howe's half hour), or throw; either
   * would stall the loop, so a bad answer is stepped over and a failure waits a minute.
   */
  async #nextTick(from: Date, signal: AbortSignal): Promise<Date | undefined> {
    let after = from.getTime();
    while (!signal.aborted) {
      try {
        const next = nextAfter(this.schedule, this.timeZone, new Date(after));
        if (next.getTime() > from.getTime()) return next;
        after = Math.max(after, next.getTime()) + 1000;
      } catch (err) {
        log.error(
          { err, component: this.id.value },
          `Cron ${this.id.value}: cannot compute the tick after ${new Date(after).toISOString()} (${messageOf(err)}); trying again in a minute`,
        );
        after += 60_000;
        await sleepUntil(new Date(Date.now() + 60_000), signal);
      }
    }
    return undefined;
  }

  /**
   * Claims `tick` and, if this process's claim is the one written, runs it in the background,
   * holding a lease that other replicas respect (their next ticks are skipped while it runs),
   * renewed while the run goes on and left to expire if this process dies.
   */
  #tick(tick: Date, instance: string, signal: AbortSignal): void {
    const at = tick.getTime();
    const running = (async () => {
      let claim: Claim | undefined;
      try {
        claim = await this.ticks.modify('last', (last) =>
          last === undefined || (last.tick < at && (last.leaseUntil ?? 0) <= Date.now())
            ? { tick: at, by: instance, leaseUntil: Date.now() + LEASE_MS }
            : last,
        );
      } catch (err) {
        log.error(
          { err, component: this.id.value },
          `Cron ${this.id.value}: could not claim the tick of ${tick.toISOString()} (${messageOf(err)}); it is skipped`,
        );
        return;
      }
      if (claim?.tick !== at || claim.by !== instance) {
        // Another replica has this tick, or is still running an earlier one.
        if (claim && claim.tick < at)
          log.warn(
            { component: this.id.value },
            `Cron ${this.id.value}: another replica's run of ${new Date(claim.tick).toISOString()} is still going; the tick of ${tick.toISOString()} is skipped`,
          );
        return;
      }
      const renew = setInterval(() => void this.#lease(at, instance, Date.now() + LEASE_MS), LEASE_MS / 3);
      try {
        await this.#run(tick, signal, true);
      } catch {
        // Logged by #run, in the run's trace; the schedule goes on.
      } finally {
        clearInterval(renew);
        await this.#lease(at, instance, 0);
      }
    })();
    const tracked: Promise<void> = running.finally(() => {
      if (this.#running === tracked) this.#running = undefined;
    });
    this.#running = tracked;
  }

  /** Sets this process's lease on `tick` to end at `until` (0: the run is over), if it still holds it. */
  async #lease(tick: number, instance: string, until: number): Promise<void> {
    try {
      await this.ticks.modify('last', (last) =>
        last?.tick === tick && last.by === instance ? { ...last, leaseUntil: until } : last,
      );
    } catch (err) {
      log.warn(
        { err, component: this.id.value },
        `Cron ${this.id.value}: could not update its lease on the tick of ${new Date(tick).toISOString()} (${messageOf(err)})`,
      );
    }
  }

  /** One run, in its span; `scheduled`: a tick's, whose failure is logged here (runNow()'s caller gets its own). */
  async #run(tick: Date, signal: AbortSignal, scheduled: boolean): Promise<void> {
    const context: CronContext = Object.freeze({ tick, signal });
    const id = this.id.value;
    // Each run is the root of a trace, as a deploy task's is: what it calls is beneath it.
    await inSpan(
      `cron ${id}`,
      SpanKind.INTERNAL,
      id,
      NO_ATTRIBUTES,
      async (span) => {
        if (span.isRecording()) span.setAttribute(ATTR_CRON_TICK, tick.toISOString());
        try {
          await runAs(this.app, this, () => this.#fn(context), { component: id });
        } catch (err) {
          // Here, so that the line carries the run's trace ID.
          if (scheduled)
            log.error(
              { err, component: id, tick: tick.toISOString() },
              `Cron ${id}: the run of ${tick.toISOString()} failed: ${messageOf(err)}; the schedule goes on`,
            );
          throw err;
        }
      },
      'message',
      ROOT,
    );
  }
}

brand(Cron, 'Cron');

function parse(schedule: string, timeZone: string, from: Date): CronExpression {
  return CronExpressionParser.parse(schedule, { tz: timeZone, currentDate: from, strict: false });
}

function nextAfter(schedule: string, timeZone: string, from: Date): Date {
  return parse(schedule, timeZone, from).next().toDate();
}

/** Resolves at `when`, or as soon as `signal` aborts. */
function sleepUntil(when: Date, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const wait = () => {
      const left = when.getTime() - Date.now();
      if (left <= 0) return done();
      timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
    };
    let timer: NodeJS.Timeout | undefined;
    signal.addEventListener('abort', done, { once: true });
    wait();
  });
}
