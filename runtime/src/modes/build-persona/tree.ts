/**
 * A readable picture of the component tree, printed by the build.
 */
import type { App } from '../../core/app.ts';

/**
 * One line per ID, indented by depth below the root, with the component's kind:
 *
 *   my-app
 *     customer-server
 *       api  ApiServer
 *       db  Store
 */
export function describeTree(app: App): string {
  const rootDepth = app.root.parts.length;
  const lines: string[] = [app.root.value];
  const seen = new Set<string>();
  // Part by part, so `orders.password` stays under `orders`, not after `orders-api`.
  const byParts = (a: readonly string[], b: readonly string[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length - b.length;
  };
  const sorted = [...app.components].sort((a, b) => byParts(a.id.parts, b.id.parts));
  for (const component of sorted) {
    const parts = component.id.parts;
    // Intermediate IDs (my-app.customer-server) get a line of their own, once.
    for (let depth = rootDepth + 1; depth <= parts.length; depth++) {
      const key = JSON.stringify(parts.slice(0, depth));
      if (seen.has(key)) continue;
      seen.add(key);
      const kind = depth === parts.length ? `  ${component.kind}` : '';
      lines.push(`${'  '.repeat(depth - rootDepth)}${parts[depth - 1]}${kind}`);
    }
  }
  return lines.join('\n');
}
