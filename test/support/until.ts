/**
 * Resolves once `check()` holds, asking every 20 ms; rejects after `seconds`, saying what did not
 * happen (`what`, or what it returns then, e.g. the output so far). A guard, not a measurement.
 */
export async function until(check: () => boolean, seconds: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${seconds} s: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
