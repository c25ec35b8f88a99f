/**
 * How a Subscription's messages are delivered: its options checked and filled with defaults,
 * and the wait before a failed message is tried again. The in-memory backend and the
 * PostgreSQL one (pg-boss) read the same settings, and the memory backend waits as pg-boss does,
 * so a test in one process sees the retries a deployment would.
 */
import { errors } from '../../core/errors.ts';

export interface BackoffOptions {
  /**
   * The wait before the second attempt, in seconds (default 1; 0 tries again at once). Each
   * later wait doubles, with jitter: between 1 and 2 times `initialSeconds * 2^(attempt - 1)`.
   */
  initialSeconds?: number;
  /** The longest wait, in seconds (default 300). */
  maxSeconds?: number;
}

export interface DeliveryOptions {
  /** Attempts before a message goes to the dead letters (default 5, from 1 to 100). */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Messages a process of the subscription handles at once (default 1, from 1 to 100). */
  concurrency?: number;
  /**
   * Seconds a handler may take before its message is taken for failed and delivered again
   * (default 60, from 1 to 86,400). The handler's `signal` aborts then.
   */
  ackDeadlineSeconds?: number;
}

export interface DeliverySettings {
  readonly maxAttempts: number;
  readonly backoff: { readonly initialSeconds: number; readonly maxSeconds: number };
  readonly concurrency: number;
  readonly ackDeadlineSeconds: number;
}

/**
 * How long a stopping subscription waits for the attempts under way, in both backends (their
 * handlers' signals abort at once); past it they count as failed.
 */
export const STOP_GRACE_MS = 10_000;

export const DEFAULT_DELIVERY: DeliverySettings = Object.freeze({
  maxAttempts: 5,
  backoff: Object.freeze({ initialSeconds: 1, maxSeconds: 300 }),
  concurrency: 1,
  ackDeadlineSeconds: 60,
});

/** The settings of `options`, each checked against its range (whole seconds: pg-boss counts in them). */
export function deliverySettings(subscription: string, options: DeliveryOptions): DeliverySettings {
  const whole = (name: string, value: unknown, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw errors.invalidSubscriptionOption(subscription, name, value, `a whole number from ${min} to ${max}`);
    return value;
  };
  const backoff = options.backoff ?? {};
  if (typeof backoff !== 'object' || backoff === null)
    throw errors.invalidSubscriptionOption(subscription, 'backoff', backoff, '{ initialSeconds?, maxSeconds? }');
  const initialSeconds = whole('backoff.initialSeconds', backoff.initialSeconds, 1, 0, 86_400);
  const maxSeconds = whole('backoff.maxSeconds', backoff.maxSeconds, Math.max(300, initialSeconds), 0, 86_400);
  if (maxSeconds < initialSeconds)
    throw errors.invalidSubscriptionOption(
      subscription,
      'backoff.maxSeconds',
      maxSeconds,
      `at least backoff.initialSeconds (${initialSeconds})`,
    );
  return Object.freeze({
    maxAttempts: whole('maxAttempts', options.maxAttempts, DEFAULT_DELIVERY.maxAttempts, 1, 100),
    backoff: Object.freeze({ initialSeconds, maxSeconds }),
    concurrency: whole('concurrency', options.concurrency, DEFAULT_DELIVERY.concurrency, 1, 100),
    ackDeadlineSeconds: whole(
      'ackDeadlineSeconds',
      options.ackDeadlineSeconds,
      DEFAULT_DELIVERY.ackDeadlineSeconds,
      1,
      86_400,
    ),
  });
}

/**
 * Milliseconds to wait after failed attempt number `attempt` (1 for the first): pg-boss's
 * `retryBackoff` formula (its plans.js), so both backends space retries alike.
 */
export function retryDelayMs(settings: DeliverySettings, attempt: number, random = Math.random): number {
  const { initialSeconds, maxSeconds } = settings.backoff;
  if (initialSeconds === 0) return 0;
  const half = 2 ** Math.min(16, attempt) / 2;
  return Math.min(maxSeconds, initialSeconds * (half + half * random())) * 1000;
}
