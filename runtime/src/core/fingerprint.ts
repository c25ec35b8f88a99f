/**
 * The tree fingerprint: what the build saw of the startup tree (IDs, kinds, edges, and what
 * each component adds: an ApiServer's routes, methods, input schemas, whether it is public), so that
 * every deployed persona can check, at the end of its own startup, that it built the same
 * tree. This closes the gap the proof of concept calls "weaker than Microvium snapshotting":
 * code that changed without a rebuild refuses to run instead of mis-wiring silently.
 */
import { createHash } from 'node:crypto';
import type { App } from './app.ts';
import { edges, type Edge } from './access.ts';
import { errors } from './errors.ts';

/** Stands for every ApiServer and Topic in a listing line: `my-app.client calls *`. */
const EVERY_API_MARK = '*';

const EDGE_KINDS: ReadonlySet<string> = new Set<Edge['kind']>(['uses', 'calls', 'publishes', 'subscribes']);

/**
 * One line per component (`Store my-app.db`) and per edge (`my-app.api calls my-app.other`),
 * sorted. A persona that declared no `uses` has one line `… calls *` instead of one per API:
 * the APIs are listed anyway, and every persona computes this at start.
 */
export function treeListing(app: App): string[] {
  const lines = app.components.map((c) => `${c.kind} ${c.id.value}`);
  for (const e of edges(app, { undeclaredCalls: 'none' })) lines.push(`${e.from.id.value} ${e.kind} ${e.to.id.value}`);
  for (const p of app.personas) if (p.uses === undefined) lines.push(`${p.id.value} calls ${EVERY_API_MARK}`);
  for (const c of app.components) lines.push(...c.fingerprintLines());
  return lines.sort();
}

export function treeFingerprint(listing: readonly string[]): string {
  return createHash('sha256').update(listing.join('\n')).digest('hex').slice(0, 16);
}

/** The IDs whose lines differ between two listings, each once, sorted. */
export function differingIds(expected: readonly string[], actual: readonly string[]): string[] {
  const a = new Set(expected);
  const b = new Set(actual);
  const ids = new Set<string>();
  for (const line of [...expected.filter((l) => !b.has(l)), ...actual.filter((l) => !a.has(l))]) {
    const words = line.split(' ');
    // `Kind id`, `from <edge kind> to` (both IDs of an edge are named), or `id <detail…>`.
    if (words.length === 2) ids.add(words[1]);
    else if (EDGE_KINDS.has(words[1])) ids.add(words[0]).add(words[2]);
    else ids.add(words[0]);
  }
  ids.delete(EVERY_API_MARK);
  return [...ids].sort();
}

/**
 * Throws when `app`'s tree differs from the build's (`expected`: the build's listing, and its
 * fingerprint), or when there is no fingerprint to compare with: a persona that cannot check
 * might serve what no build planned (a new route, a dropped token).
 */
export function assertSameTree(
  app: App,
  persona: string,
  expectedFingerprint: string | undefined,
  expectedListing: string | undefined,
): void {
  if (!expectedFingerprint) throw errors.noTreeFingerprint(persona);
  const listing = treeListing(app);
  if (treeFingerprint(listing) === expectedFingerprint) return;
  let expected: string[] = [];
  try {
    expected = expectedListing ? (JSON.parse(expectedListing) as string[]) : [];
  } catch {
    // A damaged listing still means the trees differ; report what we can.
  }
  const ids = expected.length ? differingIds(expected, listing) : [];
  // The listing may be absent (dropped above 16 KB) or equal while the fingerprint differs (another runtime version).
  throw errors.treeDrift(
    persona,
    ids.length ? ids : [`fingerprint ${treeFingerprint(listing)} (the build saw ${expectedFingerprint})`],
  );
}
