/**
 * The starter after scaffolding one component of each kind with the real `npx plop component`,
 * built with `npm run infra:build -- --target kubernetes` as a user runs it: a Deployment per
 * API and worker persona, a Job per deploy task, a StatefulSet per store (none for a bound one),
 * every object valid, every edge of the tree let through by the policies, and each persona's
 * Secrets holding exactly what compose gives it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { repoRoot, run } from './support/temp-project.ts';
import { readEnvFile } from './support/env-file.ts';

const models: Record<string, new (data: any) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  Job,
  Secret,
  Service,
  NetworkPolicy,
};
type Obj = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  stringData?: Record<string, string>;
};

const test = suite('kubernetes: the scaffolded starter');

let dir = '';

test.before(async () => {
  // Inside the repository, so the app's imports resolve through the workspace's node_modules.
  dir = mkdtempSync(join(repoRoot, '.tmp-k8s-starter-'));
  for (const file of ['package.json', 'tsconfig.json', 'src'])
    cpSync(join(repoRoot, 'starter', file), join(dir, file), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'src', 'components', 'components.json'), 'utf8'));
  assert.equal(manifest.components, [], 'the starter as shipped has no generated components');
  for (const args of [
    ['store', 'orders'],
    ['api', 'orders-api', '--', '--uses', 'orders'],
    ['task', 'seed-orders', '--', '--uses', 'orders-api'],
    ['worker', 'order-mailer', '--', '--uses', 'orders-api,customer-server'],
  ]) {
    const made = await run('npx', ['plop', 'component', ...args.slice(0, 2), '--dest', dir, ...args.slice(2)], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.is(made.code, 0, `${args.join(' ')}: ${made.stdout}${made.stderr}`);
  }
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the build persona of the copy into `build` (and compose.yaml into the copy's folder). */
async function build(
  ...args: string[]
): Promise<{ objects: Obj[]; compose: any; envFiles: Record<string, Record<string, string>>; output: string }> {
  const env = {
    ...process.env,
    PERSONA: 'build',
    INFRA_BUILD_DIR: join(dir, 'build'),
    INFRA_PROJECT_ROOT: dir,
    CUSTOMERS_DB: 'postgres://app:pw@customers.example.com/customers',
  };
  const result = await run(
    process.execPath,
    ['--conditions=source', join(dir, 'src', 'main.ts'), '--target', 'kubernetes', ...args],
    { cwd: dir, env },
  );
  const output = result.stdout + result.stderr;
  assert.is(result.code, 0, output);
  const folder = join(dir, 'build', 'kubernetes');
  const kustomization = YAML.parse(readFileSync(join(folder, 'kustomization.yaml'), 'utf8'));
  assert.equal(
    [...kustomization.resources].sort(),
    readdirSync(folder)
      .filter((f) => f !== 'kustomization.yaml')
      .sort(),
    'the kustomization lists every file',
  );
  const objects = kustomization.resources.flatMap((f: string) =>
    YAML.parseAllDocuments(readFileSync(join(folder, f), 'utf8')).map((d) => d.toJSON() as Obj),
  );
  const envDir = join(dir, 'build', 'env');
  const envFiles = Object.fromEntries(
    readdirSync(envDir).map((f) => [f.replace(/\.env$/, ''), readEnvFile(join(envDir, f))]),
  );
  return { objects, compose: YAML.parse(readFileSync(join(dir, 'compose.yaml'), 'utf8')), envFiles, output };
}

const names = (objects: Obj[], kind: string) =>
  objects
    .filter((o) => o.kind === kind)
    .map((o) => o.metadata.name)
    .sort();

/**
 * Each persona's variables in Kubernetes (inline, and from its Secrets) equal compose's (inline,
 * and from its env files).
 */
function assertSameEnvironment(objects: Obj[], compose: any, envFiles: Record<string, Record<string, string>>): void {
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o.stringData ?? {}]));
  for (const workload of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job')) {
    const container = workload.spec.template.spec.containers[0];
    const pod: Record<string, string> = {};
    for (const from of container.envFrom) Object.assign(pod, secrets.get(from.secretRef.name));
    for (const e of container.env) pod[e.name] = e.value;
    const service = compose.services[workload.metadata.name];
    const composed: Record<string, string> = {};
    for (const file of service.env_file)
      Object.assign(
        composed,
        envFiles[
          file
            .split('/')
            .pop()!
            .replace(/\.env$/, '')
        ],
      );
    Object.assign(composed, service.environment);
    // Host names are the same (Service names are compose's service names); only where an API
    // listens differs in nothing.
    assert.equal(pod, composed, workload.metadata.name);
  }
}

test('one of each kind: Deployments, a Job, StatefulSets, valid objects, the Secrets compose would give', async () => {
  const { objects, compose, envFiles } = await build();
  for (const o of objects) {
    const model = models[o.kind];
    assert.ok(model, `an object of a known kind: ${o.kind}`);
    new model(o).validate();
  }
  const C = 'my-app--components';
  // The customer server and the scaffolded API; the worker. Tasks: the example client and the scaffolded one.
  assert.equal(
    names(objects, 'Deployment'),
    ['my-app--customer-server--api', `${C}--order-mailer`, `${C}--orders-api`].sort(),
  );
  assert.equal(names(objects, 'Job'), ['my-app--example-client', `${C}--seed-orders`].sort());
  assert.equal(names(objects, 'StatefulSet'), ['my-app--customer-server--db', `${C}--orders`].sort());
  assert.equal(
    names(objects, 'Service'),
    ['my-app--customer-server--api', 'my-app--customer-server--db', `${C}--orders-api`, `${C}--orders`].sort(),
  );
  assertSameEnvironment(objects, compose, envFiles);
  // The worker declared what it uses: the scaffolded API's and the customer server's tokens; of
  // the databases, only the generated components' store (it is one of them), not the customer server's.
  const mailer = objects.find((o) => o.kind === 'Secret' && o.metadata.name === `${C}--order-mailer`)!.stringData!;
  assert.equal(
    Object.keys(mailer)
      .filter((k) => k.endsWith('__TOKEN'))
      .sort(),
    ['MY_APP__COMPONENTS__ORDERS_API__TOKEN', 'MY_APP__CUSTOMER_SERVER__API__TOKEN'],
  );
  assert.equal(
    Object.keys(mailer).filter((k) => k.endsWith('__URL') && mailer[k].startsWith('postgres:')),
    ['MY_APP__COMPONENTS__ORDERS__URL'],
  );

  // Every edge of the tree is let through, as ingress on its target and egress from its source.
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const pods = new Map(
    objects
      .filter((o) => o.spec?.template)
      .map((o) => [o.metadata.name, o.spec.template.metadata.labels as Record<string, string>]),
  );
  const selects = (selector: any, pod: string) =>
    Object.entries(selector?.matchLabels ?? { none: 'none' }).every(([k, v]) => pods.get(pod)?.[k] === v);
  const through = (from: string, to: string) =>
    policies.some(
      (p) =>
        selects(p.spec.podSelector, to) &&
        (p.spec.ingress ?? []).some((r: any) => r.from?.some((f: any) => selects(f.podSelector, from))),
    ) &&
    policies.some(
      (p) =>
        selects(p.spec.podSelector, from) &&
        (p.spec.egress ?? []).some((r: any) => r.to?.some((t: any) => selects(t.podSelector, to))),
    );
  for (const api of [`${C}--orders-api`, 'my-app--customer-server--api'])
    assert.ok(through(`${C}--order-mailer`, api), `mailer -> ${api}`);
  assert.ok(through(`${C}--seed-orders`, `${C}--orders-api`));
  assert.not.ok(through(`${C}--seed-orders`, 'my-app--customer-server--api'), 'it declared only orders-api');
  assert.not.ok(through(`${C}--order-mailer`, 'my-app--customer-server--db'), 'not the customer server’s database');
  for (const owner of [`${C}--orders-api`, `${C}--seed-orders`, `${C}--order-mailer`])
    assert.ok(through(owner, `${C}--orders`), `${owner} -> orders`);
});

test('a store bound to an existing PostgreSQL: no StatefulSet, its URL only for its owners', async () => {
  const store = 'my-app.components.orders';
  const { objects, compose, envFiles, output } = await build('--bind-store', `${store}=env:CUSTOMERS_DB`);
  assert.match(output, `Store ${store}: bound to postgres://app:***@customers.example.com/customers`);
  assert.equal(names(objects, 'StatefulSet'), ['my-app--customer-server--db']);
  assert.not.ok(Object.keys(compose.services).includes('my-app--components--orders'));
  const holders = objects
    .filter(
      (o) =>
        o.kind === 'Secret' &&
        Object.values(o.stringData ?? {}).includes('postgres://app:pw@customers.example.com/customers'),
    )
    .map((o) => o.metadata.name);
  const C = 'my-app--components';
  assert.equal(
    holders.sort(),
    [`${C}--order-mailer`, `${C}--orders-api`, `${C}--seed-orders`],
    'the components under its owner, no one else',
  );
  // Nor the password generated for its own database, which nobody connects with now.
  assert.not.ok(
    objects.some((o) => o.kind === 'Secret' && 'MY_APP__COMPONENTS__ORDERS__PASSWORD' in (o.stringData ?? {})),
  );
  assert.ok(
    objects.some((o) => o.kind === 'Secret' && 'MY_APP__CUSTOMER_SERVER__DB__PASSWORD' in (o.stringData ?? {})),
    'an unbound store’s password still reaches its owner',
  );
  assertSameEnvironment(objects, compose, envFiles);
});

test.run();
