/**
 * What a process of the app that the runtime starts (a persona's, in `infra:local`; the app's, in
 * `npm run dev`) needs of this process's own Node flags.
 */

/**
 * This process's own `--conditions` (`-C`) flags, for each persona's process: this repository
 * runs with `--conditions=source` (TypeScript sources), an app that installed the package with
 * none (its compiled JavaScript). Conditions in NODE_OPTIONS reach the personas with the environment.
 */
export function conditionArgs(execArgv: readonly string[]): string[] {
  return execArgv.flatMap((arg, i) =>
    /^(?:--conditions|-C)=/.test(arg)
      ? [arg]
      : (arg === '--conditions' || arg === '-C') && i + 1 < execArgv.length
        ? [arg, execArgv[i + 1]]
        : [],
  );
}
