/**
 * Orphaned resources: a Store removed from the code leaves its volume and local database
 * behind; the build warns with their names until `npm run infra:prune` removes them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connected } from './support/pg-query.ts';
import { appOf } from 'infra-generator/internal/core/app';
import { planDeployment } from 'infra-generator/internal/plan/plan';
import { ensureLocalDatabases } from 'infra-generator/internal/resources/databases';
import { composeProjectName, type ResourceRecord } from 'infra-generator/internal/resources/resources';
import { cleanEnv, run, tempProject, type TempProject } from './support/temp-project.ts';
import { buildInto, seedApp } from './support/seed-app.ts';

import { adminUrl } from './support/pg-admin.ts';
const test = suite('orphaned resources');
const record = (p: TempProject) =>
  JSON.parse(readFileSync(join(p.buildDir, 'resources.json'), 'utf8')) as ResourceRecord;

const exists = (catalog: 'pg_database' | 'pg_roles', column: string, name: string) =>
  connected(
    adminUrl,
    async (client) => (await client.query(`SELECT 1 FROM ${catalog} WHERE ${column} = $1`, [name])).rowCount === 1,
  );
const databaseExists = (name: string) => exists('pg_database', 'datname', name);
const roleExists = (name: string) => exists('pg_roles', 'rolname', name);

async function dropDatabase(name: string): Promise<void> {
  await connected(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`DROP ROLE IF EXISTS "${name}"`);
  });
}

test('removing a store and rebuilding names its orphaned volume, until pruned', async () => {
  const project = tempProject();
  try {
    const first = await buildInto(seedApp(), project);
    assert.is(first.code, 0, first.output);
    const [store] = record(project).resources;
    assert.is(store.store, 'my-app.customer-server.db');
    assert.equal(record(project).orphaned, []);
    assert.not.match(first.output, 'infra:prune');

    const volume = `${composeProjectName(project.root)}_${store.volume}`;
    for (let i = 0; i < 2; i++) {
      const again = await buildInto(seedApp(false), project);
      assert.is(again.code, 0, again.output);
      assert.match(again.output, `docker volume ${volume}`);
      assert.match(again.output, 'npm run infra:prune');
      assert.equal(record(project), { resources: [], orphaned: [store] });
    }
  } finally {
    project.remove();
  }
});

/** `env` with a stand-in `docker` first on PATH that answers every command with `status`. */
function withDocker(project: TempProject, env: NodeJS.ProcessEnv, status: number): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(project.root, 'docker-'));
  writeFileSync(join(bin, 'docker'), `#!/bin/sh\nexit ${status}\n`, { mode: 0o755 });
  return { ...env, PATH: `${bin}:${env.PATH}` };
}

test('infra:prune refuses without a terminal, and with --yes drops the local database and its role', async () => {
  const project = tempProject();
  let database = '';
  try {
    const root = seedApp();
    assert.is((await buildInto(root, project)).code, 0);
    // Create the store's database the way the local runner does.
    const values = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values;
    const plan = planDeployment(appOf(root), (id) => values[id], 'values.json');
    await ensureLocalDatabases(plan.stores, adminUrl, project.buildDir);
    database = record(project).resources[0].database;
    assert.ok(await databaseExists(database));
    assert.ok(await roleExists(database), 'the store has its own login role, named like its database');

    assert.is((await buildInto(seedApp(false), project)).code, 0);
    const env = cleanEnv({ INFRA_LOCAL_PG_URL: adminUrl });
    const refused = await run('npm', ['run', 'infra:prune'], { cwd: project.root, env });
    assert.is.not(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, '--yes');
    assert.ok(await databaseExists(database), 'nothing is removed without confirmation');

    // Without Docker the volume stays, and so does its entry, for a later prune.
    const orphaned = record(project).orphaned;
    const noDocker = await run('npm', ['run', 'infra:prune', '--', '--yes'], {
      cwd: project.root,
      env: withDocker(project, env, 1),
    });
    assert.is(noDocker.code, 0, noDocker.stdout + noDocker.stderr);
    assert.match(noDocker.stdout, 'Docker is not available');
    assert.match(noDocker.stdout, 'Dropped 1 local database(s).');
    assert.not.ok(await databaseExists(database));
    assert.not.ok(await roleExists(database), 'its login role goes with it');
    assert.equal(record(project).orphaned, orphaned);

    const pruned = await run('npm', ['run', 'infra:prune', '--', '--yes'], {
      cwd: project.root,
      env: withDocker(project, env, 0),
    });
    assert.is(pruned.code, 0, pruned.stdout + pruned.stderr);
    assert.match(pruned.stdout, database);
    assert.match(pruned.stdout, 'Removed 1 docker volume(s).');
    assert.equal(record(project).orphaned, []);

    const rebuilt = await buildInto(seedApp(false), project);
    assert.not.match(rebuilt.output, 'infra:prune');
  } finally {
    if (database) await dropDatabase(database);
    project.remove();
  }
});

test.run();
