/**
 * The benchmark harness: run our path and its baseline in the same process run, alternating,
 * several rounds, and print one comparison line:
 *   <name>: ours <value> <unit>, baseline <value> <unit>, ratio <x>
 * The ratio is ours / baseline for rates (higher is better) and baseline / ours for costs, so
 * a ratio of 1 or more always means "as good as the baseline or better".
 */
import { performance } from 'node:perf_hooks';

export interface Measured {
  value: number;
  unit: string;
}

export interface Comparison {
  name: string;
  ours: Measured;
  baseline: Measured;
  /** `rate`: higher is better (requests/s); `cost`: lower is better (ms, MiB). */
  better: 'higher' | 'lower';
  /** The least acceptable ratio. */
  target?: number;
  /** How the target reads in words, e.g. "at most 1.3x the baseline". */
  targetText?: string;
  /**
   * ours / baseline taken round by round (`alternate`'s `roundRatio`): when given, the ratio is
   * this rather than the ratio of the two medians.
   */
  roundRatio?: number;
}

/** Every line reported in this process, in order (bench/run.ts writes them into RESULTS.md). */
export const reported: { comparison: Comparison; line: string }[] = [];

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function ratioOf(c: Comparison): number {
  const oursOverBaseline = c.roundRatio ?? c.ours.value / c.baseline.value;
  return c.better === 'higher' ? oursOverBaseline : 1 / oursOverBaseline;
}

/**
 * The ratio as shown: two decimals, or three where two would round a ratio just under its
 * target up to it (0.997 against 1.00 reads 0.997, not 1.00 "not met").
 */
export function ratioText(c: Comparison): string {
  const ratio = ratioOf(c);
  const two = ratio.toFixed(2);
  return c.target !== undefined && ratio < c.target && Number(two) >= c.target ? ratio.toFixed(3) : two;
}

export function report(c: Comparison): string {
  const line = `${c.name}: ours ${fmt(c.ours.value)} ${c.ours.unit}, baseline ${fmt(c.baseline.value)} ${c.baseline.unit}, ratio ${ratioText(c)}${
    c.target === undefined
      ? ''
      : ` (target ratio >= ${c.target.toFixed(2)}${c.targetText ? `, ${c.targetText}` : ''}: ${metTarget(c) ? 'met' : 'NOT met'})`
  }`;
  reported.push({ comparison: c, line });
  console.log(line);
  return line;
}

export function metTarget(c: Comparison): boolean | undefined {
  return c.target === undefined ? undefined : ratioOf(c) >= c.target;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs `ours` and `baseline` alternately for `rounds` rounds (after one warm-up each) and
 * returns each side's median, and the median of the rounds' own ratios (ours / baseline). Each
 * function returns its own measurement of one round. The two runs of a round are back to back,
 * so the machine's load, which drifts over a run on a shared VM, weighs on both alike: the
 * median of those ratios is steadier than the ratio of the medians, which may come from rounds
 * minutes apart.
 */
export async function alternate(
  rounds: number,
  ours: () => Promise<number>,
  baseline: () => Promise<number>,
): Promise<{ ours: number; baseline: number; roundRatio: number }> {
  await ours();
  await baseline();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Swap the order each round so neither side always runs on a warmer machine.
    if (i % 2 === 0) {
      a.push(await ours());
      b.push(await baseline());
    } else {
      b.push(await baseline());
      a.push(await ours());
    }
  }
  return { ours: median(a), baseline: median(b), roundRatio: median(a.map((value, i) => value / b[i])) };
}

/** Operations per second of `op` run `count` times with `concurrency` in flight. */
export async function throughput(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / ((performance.now() - start) / 1000);
}
