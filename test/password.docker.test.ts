/**
 * A store's password is fixed in its volume when PostgreSQL first initialises it: a build that
 * would make a new password while that volume exists (the value file was lost) must refuse and
 * write nothing. Needs a Docker engine (run by `npm run test:docker`).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempProject } from './support/temp-project.ts';
import { buildInto, seedApp } from './support/seed-app.ts';
import { composeProjectName } from 'infra-generator/internal/resources/resources';

test('a new password for a store whose volume exists is refused, and nothing is written', async () => {
  const project = tempProject();
  const volume = `${composeProjectName(project.root, {})}_my-app--customer-server--db-data`;
  try {
    const first = await buildInto(seedApp(), project);
    assert.is(first.code, 0, first.output);
    const compose = readFileSync(join(project.root, 'compose.yaml'), 'utf8');
    assert.ok(
      compose.includes('my-app--customer-server--db-data'),
      'the volume name the test creates is the one compose uses',
    );
    execFileSync('docker', ['volume', 'create', volume], { stdio: 'ignore' });
    // Kept values: building again is fine while the volume exists.
    assert.is((await buildInto(seedApp(), project)).code, 0);
    rmSync(join(project.buildDir, 'values.json'));
    rmSync(join(project.root, 'compose.yaml'));
    const lost = await buildInto(seedApp(), project);
    assert.is(lost.code, 1);
    assert.match(
      lost.output,
      `Store my-app.customer-server.db: the build would make a new password, but docker volume ${volume} already holds its database`,
    );
    assert.not.ok(existsSync(join(project.buildDir, 'values.json')), 'no value file written');
    assert.not.ok(existsSync(join(project.root, 'compose.yaml')), 'no compose file written');
  } finally {
    execFileSync('docker', ['volume', 'rm', '-f', volume], { stdio: 'ignore' });
    project.remove();
  }
});

test.run();
