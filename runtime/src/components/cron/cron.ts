/**
 * Cron: a persona that runs a function on a schedule (cron syntax, in a time zone). It is a
 * scheduler persona, not a Kubernetes CronJob: compose has no CronJob, so one mechanism serves
 * every mode, runs to the second, and starts no pod per tick.
 *
 * However many replicas run it, a tick runs at most once: before running, a replica claims the
 * tick in the cron's own Store (`<id>.ticks`, one key holding the last tick claimed, written by
 * an atomic modify()), and only the replica whose claim is written runs it. A tick that came
 * due while no replica ran is not run later (a cron resumes at its next tick); a run still going
 * at the next tick makes that tick skipped, not overlapped. A failing run is logged with its
 * error and the schedule goes on.
 */
import { randomUUID } from 'node:crypto';
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { brand, hasBrand } from '../../core/brands.ts';
import { Persona, type PersonaOptions } from '../../core/persona.ts';
import type { ID } from '../../core/id.ts';
import { currentContext, runAs } from '../../core/app.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { log } from '../../core/telemetry/log.ts';
import { Store } from '../store/store.ts';

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

/** What the cron's Store keeps: the last tick claimed, and by which process. */
interface Claim {
  readonly tick: number;
  readonly by: string;
}

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
   * without claiming a tick: for tests and for an operator's one-off run. Rejects with its error.
   */
  async runNow(): Promise<void> {
    this.assertPhase('runNow()', 'runtime');
    await this.#run(new Date(), new AbortController().signal);
  }

  /** Runs the schedule until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const instance = randomUUID();
    // Started afresh, so the first tick is the one after now: a tick missed while down is not run.
    let next = nextAfter(this.schedule, this.timeZone, new Date());
    log.info(
      { component: this.id.value },
      `Cron ${this.id.value}: "${this.schedule}" (${this.timeZone}); next tick ${next.toISOString()}`,
    );
    while (!signal.aborted) {
      await sleepUntil(next, signal);
      if (signal.aborted) break;
      const tick = next;
      // The tick after this one, from the tick itself: a slow claim or run does not shift the schedule.
      next = nextAfter(this.schedule, this.timeZone, new Date(Math.max(tick.getTime(), Date.now() - 1)));
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

  /** Claims `tick` and, if this process's claim is the one written, runs it in the background. */
  #tick(tick: Date, instance: string, signal: AbortSignal): void {
    const at = tick.getTime();
    const running = (async () => {
      let claim: Claim | undefined;
      try {
        claim = await this.ticks.modify('last', (last) =>
          last === undefined || last.tick < at ? { tick: at, by: instance } : last,
        );
      } catch (err) {
        log.error(
          { err, component: this.id.value },
          `Cron ${this.id.value}: could not claim the tick of ${tick.toISOString()} (${messageOf(err)}); it is skipped`,
        );
        return;
      }
      if (claim?.tick !== at || claim.by !== instance) return; // another replica has it
      try {
        await this.#run(tick, signal);
      } catch (err) {
        log.error(
          { err, component: this.id.value, tick: tick.toISOString() },
          `Cron ${this.id.value}: the run of ${tick.toISOString()} failed: ${messageOf(err)}; the schedule goes on`,
        );
      }
    })();
    const tracked: Promise<void> = running.finally(() => {
      if (this.#running === tracked) this.#running = undefined;
    });
    this.#running = tracked;
  }

  async #run(tick: Date, signal: AbortSignal): Promise<void> {
    const context: CronContext = Object.freeze({ tick, signal });
    // As the cron, whoever calls: runNow() from a test runs with the cron's rights, as a tick does.
    const app = currentContext()?.app ?? this.app;
    await runAs(app, this, () => this.#fn(context), { component: this.id.value });
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
