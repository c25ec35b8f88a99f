/**
 * Where a Store call's time goes (a tool, not a benchmark: `npm run bench` does not run it).
 * Runs `get`, `set` or `modify` (the first argument, default get) OPS times (default 50k), 32 in
 * flight, through the Store (deployed backend, slonik), raw `pg` with named prepared statements,
 * or slonik alone with the store's pool settings and the same named statements, built once (the
 * second argument, `ours`, `pg` or `slonik`; default ours), on a throwaway database, and
 * prints the rate and this process's CPU per call. With --cpu-prof, bench/profile-summary.ts
 * reads the profile:
 *
 *   node --conditions=source --cpu-prof --cpu-prof-dir=/tmp/prof/store bench/profile-store.ts get ours
 *   node --conditions=source bench/profile-summary.ts /tmp/prof/store 40
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { rootId, appOf, Store, ApiServer } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { throughput } from './harness.ts';
import { admin, adminUrl, bump, keyOf, KEYS, rawStore, slonikStore, valueOf, type Customer } from './store.bench.ts';

const operation = (process.argv[2] ?? 'get') as 'get' | 'set' | 'modify';
const side = process.argv[3] ?? 'ours';
// Checked before the database is made: an unknown one would leave it behind.
if (!['get', 'set', 'modify'].includes(operation) || !['ours', 'slonik', 'pg'].includes(side))
  throw new Error(`profile-store: usage: profile-store.ts [get|set|modify] [ours|slonik|pg], not ${operation} ${side}`);
const OPS = Number(process.env.OPS ?? 50_000);

const database = `profile_store_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${database}`);
const url = new URL(adminUrl);
url.pathname = `/${database}`;
const id = rootId('profile-store');
const api = new ApiServer(id`api`);
const store = new Store<Customer>(id`customers`);
const platform = new DeployedPlatform({
  env: { [wiring.storeUrl(store.id)]: url.toString() },
  persona: api,
  log: { info() {}, error: console.error },
});
appOf(id).enter('runtime', platform);
const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
const table = store.id.sqlName;
const closers: (() => Promise<void>)[] = [];

type Op = (i: number) => Promise<unknown>;
let op: Op;
if (side === 'ours') {
  const ours = <R>(fn: () => Promise<R>) => runAs(appOf(id), api, fn);
  op = {
    get: (i: number) => ours(() => store.get(keyOf(i))),
    set: (i: number) => ours(() => store.set(keyOf(i), valueOf(i))),
    modify: (i: number) => ours(() => store.modify(keyOf(i), bump)),
  }[operation];
} else if (side === 'slonik' || side === 'pg') {
  const slonik = side === 'slonik' ? await slonikStore(url.toString(), table) : undefined;
  if (slonik) closers.push(() => slonik.end());
  const other = slonik ?? rawStore(pool, table, true);
  op = {
    get: (i: number) => other.get(keyOf(i)),
    set: (i: number) => other.set(keyOf(i), valueOf(i)),
    modify: (i: number) => other.modify(keyOf(i), bump),
  }[operation];
} else {
  throw new Error(`profile-store: the side is ours, slonik or pg, not ${side}`);
}

try {
  // The table exists and holds every key (made through the store, whichever side runs).
  await runAs(appOf(id), api, async () => {
    for (let i = 0; i < KEYS; i++) await store.set(keyOf(i), valueOf(i));
  });
  await throughput(Math.min(OPS, 5000), 32, op); // warm-up
  const before = process.cpuUsage();
  const rate = await throughput(OPS, 32, op);
  const cpu = process.cpuUsage(before);
  console.log(
    `${side} ${operation}: ${rate.toFixed(0)} ops/s, this process's CPU ${((cpu.user + cpu.system) / OPS).toFixed(1)} µs per call`,
  );
} finally {
  for (const close of closers) await close();
  await pool.end();
  await platform.close();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
