/**
 * The place the app runs in, as the core sees it: the app enters its runtime (or build) phase
 * on a platform and closes it at the end. What components need of it is declared where they
 * are (values/value-platform.ts, components/platform.ts), so core/ depends on none of them; the
 * modes build platforms that provide all of it.
 */
export interface Platform {
  readonly mode: 'in-process' | 'deployed';
  /** Releases connections and servers. */
  close(): Promise<void>;
}
