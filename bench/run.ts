/**
 * `npm run bench`: every benchmark, one after another, each printing its comparison lines
 * (`<name>: ours <value> <unit>, baseline <value> <unit>, ratio <x>`), then a table of them all
 * with the machine they ran on, written to bench/RESULTS.md.
 *
 * `npm run bench -- store api` runs only the benchmarks named. The Store benchmarks need the
 * PostgreSQL at INFRA_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), the
 * image and idle benchmarks a Docker engine (idle also docker-compose); a benchmark that cannot
 * run says why and the others go on.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { metTarget, ratioText, reported, type Comparison } from './harness.ts';
import { benchInProcess } from './in-process.bench.ts';
import { benchStore, adminUrl } from './store.bench.ts';
import { benchIndexRebuild } from './index-rebuild.bench.ts';
import { benchTopics } from './topics.bench.ts';
import { benchApi } from './api.bench.ts';
import { benchMemory } from './memory.bench.ts';
import { benchColdStart } from './coldstart.bench.ts';
import { benchBuild } from './build.bench.ts';
import { benchImage } from './image.bench.ts';
import { benchIdle } from './idle.bench.ts';

const benches: [string, () => Promise<void>][] = [
  ['in-process', benchInProcess],
  ['store', benchStore],
  ['index-rebuild', benchIndexRebuild],
  ['topics', benchTopics],
  ['api', benchApi],
  ['memory', benchMemory],
  ['cold-start', benchColdStart],
  ['build', benchBuild],
  ['image', benchImage],
  ['idle', benchIdle],
];

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return `PostgreSQL ${rows[0].v}`;
  } catch {
    return 'PostgreSQL: not reachable';
  } finally {
    await client.end().catch(() => {});
  }
}

function dockerVersion(): string {
  try {
    return `Docker ${execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`;
  } catch {
    return 'Docker: not available';
  }
}

async function machine(): Promise<string> {
  const cpu = cpus();
  return [
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node.js ${process.version}`,
    await postgresVersion(),
    dockerVersion(),
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('; ');
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function table(rows: Comparison[]): string {
  const lines = ['| Benchmark | Ours | Baseline | Ratio | Target |', '|---|---|---|---|---|'];
  for (const c of rows) {
    const met = metTarget(c);
    const target =
      c.target === undefined ? '' : `${c.targetText ?? `≥ ${c.target.toFixed(2)}`}: ${met ? 'met' : '**not met**'}`;
    lines.push(
      `| ${c.name} | ${fmt(c.ours.value)} ${c.ours.unit} | ${fmt(c.baseline.value)} ${c.baseline.unit} | ${ratioText(c)} | ${target} |`,
    );
  }
  return lines.join('\n');
}

const only = process.argv.slice(2);
const unknown = only.filter((name) => !benches.some(([n]) => n === name));
if (unknown.length)
  throw new Error(`Unknown benchmark(s) ${unknown.join(', ')}; known: ${benches.map(([n]) => n).join(', ')}`);

const about = await machine();
console.log(`Machine: ${about}`);
// Lines that are not comparisons (build times per size, the image's size over its base) go into the notes.
const notes: string[] = [];
const log = console.log;
console.log = (...args: unknown[]) => {
  log(...args);
  const text = args.join(' ');
  if (!reported.some((r) => r.line === text)) notes.push(text);
};
const skipped: string[] = [];
for (const [name, bench] of benches) {
  if (only.length && !only.includes(name)) continue;
  log(`\n# ${name}`);
  try {
    await bench();
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    skipped.push(`${name}: ${reason}`);
    console.error(`${name} benchmark could not run: ${reason}`);
  }
}
console.log = log;

const results = `# Benchmark results

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}.
Each comparison runs ours and its baseline in the same run, alternating, several rounds: the
values are each side's median, and where the two sides alternate, the ratio is the median of the
rounds' own ratios (each round's two runs back to back, under the same load).
A ratio of 1 or more means as good as the baseline or better: ours / baseline for rates,
baseline / ours for times and sizes.

Machine: ${about}.

${table(reported.map((r) => r.comparison))}
${notes.length ? `\nAlso measured:\n\n${notes.map((n) => `- ${n.trim()}`).join('\n')}\n` : ''}${skipped.length ? `\nNot run:\n\n${skipped.map((s) => `- ${s}`).join('\n')}\n` : ''}`;
if (only.length === 0) {
  writeFileSync(join(import.meta.dirname, 'RESULTS.md'), results);
  log('\nWrote bench/RESULTS.md');
}
// Child processes and pools are closed; anything left (a keep-alive socket) must not hold the run open.
process.exit(skipped.length ? 1 : 0);
