/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time by function and by
 * package, heaviest first.   node bench/profile-summary.ts <dir-or-file> [top]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const target = process.argv[2];
const top = Number(process.argv[3] ?? 40);
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[] };
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^file:\/\//, '');
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ??
      (where.includes('/runtime/src/')
        ? 'ours: ' + where.split('/runtime/src/')[1].split('/').slice(0, -1).join('/')
        : where.startsWith('node:')
          ? where
          : where
            ? 'other'
            : `(${functionName})`);
    const key = `${functionName || '(anonymous)'} ${where.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.hitCount);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.hitCount);
    total += node.hitCount;
  }
}
const show = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title} (of ${total} samples)`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
};
show('by package', byPackage, 25);
show('by function', byFunction, top);

// With a third argument, the call paths (innermost first, 8 frames) into functions of that name.
const callersOf = process.argv[4];
if (callersOf) {
  const paths = new Map<string, number>();
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[] };
    const parent = new Map<number, Node>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
    for (const n of profile.nodes) {
      if (n.callFrame.functionName !== callersOf || !n.hitCount) continue;
      const chain: string[] = [];
      for (let p: Node | undefined = n; p && chain.length < 8; p = parent.get(p.id))
        chain.push(
          `${p.callFrame.functionName || '(anon)'}@${p.callFrame.url.split('/').slice(-1)[0]}:${p.callFrame.lineNumber + 1}`,
        );
      const key = chain.join(' < ');
      paths.set(key, (paths.get(key) ?? 0) + n.hitCount);
      void byId;
    }
  }
  show(`paths into ${callersOf}`, paths, 12);
}

// Inclusive time (self and callees) of this repository's functions, heaviest first.
{
  const inclusive = new Map<string, number>();
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[] };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const total = (n: Node): number => n.hitCount + (n.children ?? []).reduce((sum, c) => sum + total(byId.get(c)!), 0);
    const walk = (n: Node, open: Set<string>) => {
      const { functionName, url, lineNumber } = n.callFrame;
      let key: string | undefined;
      if (url.includes('/runtime/src/') || process.env.INCLUSIVE_ALL) {
        key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
        if (open.has(key)) key = undefined;
        else inclusive.set(key, (inclusive.get(key) ?? 0) + total(n));
      }
      if (key) open.add(key);
      for (const c of n.children ?? []) walk(byId.get(c)!, open);
      if (key) open.delete(key);
    };
    walk(profile.nodes[0], new Set());
  }
  show('inclusive, our functions', inclusive, Number(process.env.INCLUSIVE_TOP ?? 30));
}
