/**
 * `npm run infra:prune`: removes the volumes and local databases that resources.json lists
 * as orphaned (their Store is gone from the code), after confirmation, since the data is lost.
 * It runs holding the build lock (build-lock.ts), like a build: the two never overlap.
 */
import { createInterface } from 'node:readline/promises';
import { createPool, sql } from 'slonik';
import type { RunContext } from '../context.ts';
import { redactUrl } from '../../resources/databases.ts';
import { dockerAvailable, removeVolume } from '../../resources/docker-volumes.ts';
import { embeddedPostgresDir, localPostgres } from '../../resources/local-postgres.ts';
import { composeProjectName, readRecord, writeRecord, type Resource } from '../../resources/resources.ts';
import { errors, messageOf } from '../../core/errors.ts';

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function dropDatabases(resources: readonly Resource[], adminUrl: string): Promise<void> {
  if (resources.length === 0) return;
  let pool;
  try {
    pool = await createPool(adminUrl, { maxPoolSize: 1, connectionRetryLimit: 0, connectionTimeout: 5_000 });
  } catch (err) {
    throw errors.pruneFailed(`local databases on ${redactUrl(adminUrl)}`, messageOf(err));
  }
  try {
    for (const r of resources) {
      try {
        await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([r.database])} WITH (FORCE)`);
        // The Store's login role has the database's name (resources/databases.ts) and owned only it.
        await pool.query(sql.unsafe`DROP ROLE IF EXISTS ${sql.identifier([r.database])}`);
      } catch (err) {
        throw errors.pruneFailed(`local database ${r.database} of ${r.kind ?? 'Store'} ${r.store}`, messageOf(err));
      }
    }
  } finally {
    await pool.end();
  }
}

export async function runPrune(context: RunContext, yes: boolean): Promise<number> {
  const { paths, env, log } = context;
  const record = readRecord(paths.buildDir);
  if (record.orphaned.length === 0) {
    log.info('No orphaned volumes or databases.');
    return 0;
  }
  const project = composeProjectName(paths.projectRoot, env);
  log.info('Orphaned resources (their Store is no longer in the code):');
  for (const r of record.orphaned)
    log.info(`  ${r.store}: docker volume ${project}_${r.volume}, local database ${r.database}`);
  if (!yes) {
    if (!process.stdin.isTTY) throw errors.pruneNeedsConfirmation();
    if (!(await confirm('Remove them and all their data? [y/N] '))) {
      log.info('Nothing removed.');
      return 1;
    }
  }
  const docker = dockerAvailable();
  if (docker) for (const r of record.orphaned) removeVolume(`${project}_${r.volume}`);
  log.info(
    docker
      ? `Removed ${record.orphaned.length} docker volume(s).`
      : 'Docker is not available: the volumes are left as they are, and kept listed as orphans for a later prune.',
  );
  // An embedded PostgreSQL that was never made holds no databases to drop.
  const postgres = await localPostgres(env, paths.buildDir, log, { existingOnly: true });
  try {
    if (postgres) await dropDatabases(record.orphaned, postgres.adminUrl);
  } finally {
    await postgres?.stop();
  }
  log.info(
    postgres
      ? `Dropped ${record.orphaned.length} local database(s).`
      : `No local databases to drop: the embedded PostgreSQL of ${embeddedPostgresDir(paths.buildDir)} was never made ` +
          '(for databases on a server of your own, prune with INFRA_LOCAL_PG_URL set).',
  );
  // What is not removed stays listed, so nothing is forgotten while its data remains.
  writeRecord(paths.buildDir, { resources: record.resources, orphaned: docker ? [] : record.orphaned });
  return 0;
}
