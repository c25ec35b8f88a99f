/**
 * The place the app runs in, as the core sees it: the app enters its runtime (or build) phase
 * on a platform and closes it at the end. What components need of it is declared where they
 * are (values/value-platform.ts, components/platform.ts), so core/ depends on none of them; the
 * modes build platforms that provide all of it.
 */
export interface Platform {
  readonly mode: 'in-process' | 'deployed';
  /**
   * Whether runtime code that runs as no persona (a timer set at startup) may use Stores and
   * read secrets. Deployed it runs in one persona's process, which the environment already
   * limits; in one process it could be any persona's, so `npm start` refuses it. A test harness
   * (startInProcess) allows it, like a debugger.
   */
  readonly codeOutsidePersonas: 'allowed' | 'refused';
  /** Releases connections and servers. */
  close(): Promise<void>;
}
