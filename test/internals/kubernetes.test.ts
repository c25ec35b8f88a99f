/**
 * `--target kubernetes`: the seed example's manifests under build/kubernetes/, validated
 * against the Kubernetes schemas, with Secrets scoped as compose scopes env files and a
 * NetworkPolicy per edge; and the checks the schemas cannot make.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ApiServer, onDeploy, rootId, Worker } from 'infra-generator';
import { tempProject } from '../support/temp-project.ts';
import { shopApp } from '../support/shop-app.ts';
import { readEnvFile } from '../support/env-file.ts';
import { buildInto, seedApp, API, CLIENT, DB } from '../support/seed-app.ts';
import {
  checkManifests,
  COMPONENT_LABEL,
  dnsLabelOrHash,
} from 'infra-generator/internal/targets/kubernetes/kubernetes-check';
import { parseBuildArgs } from 'infra-generator/internal/modes/command-line';

/** The Secret of what the personas that call every API share, named for the app. */
const EVERY_API = 'my-app--every-api';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  stringData?: Record<string, string>;
};

function readManifests(folder: string): { files: string[]; objects: Obj[]; kustomization: any } {
  const files = readdirSync(folder).sort();
  const objects = files
    .filter((f) => f !== 'kustomization.yaml')
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(join(folder, f), 'utf8')).map((d) => d.toJSON() as Obj));
  return { files, objects, kustomization: YAML.parse(readFileSync(join(folder, 'kustomization.yaml'), 'utf8')) };
}

/**
 * Who may reach whom under `objects`' NetworkPolicies, evaluated as a cluster does: selectors
 * against the pods' labels; a rule without peers (a public API) admits `(anyone)`.
 */
function reach(objects: Obj[]) {
  const pods = objects.map((o) => o.spec?.template?.metadata?.labels).filter((l) => l?.[COMPONENT_LABEL]);
  const selects = (selector: any, component: string) => {
    const labels = pods.find((l) => l[COMPONENT_LABEL] === component);
    return labels !== undefined && Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  };
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec);
  const components = pods.map((l) => l[COMPONENT_LABEL] as string);
  const port = (rule: any, p?: number) => p === undefined || rule.ports?.some((x: any) => x.port === p);
  return {
    /** Components admitted into `to` (on port `p`). */
    sources: (to: string, p?: number) =>
      [
        ...new Set(
          policies
            .filter((pol) => Object.keys(pol.podSelector).length && selects(pol.podSelector, to))
            .flatMap((pol) =>
              (pol.ingress ?? [])
                .filter((r: any) => port(r, p))
                .flatMap((r: any) =>
                  r.from
                    ? components.filter((c) => r.from.some((f: any) => f.podSelector && selects(f.podSelector, c)))
                    : ['(anyone)'],
                ),
            ),
        ),
      ].sort(),
    /**
     * Components `from` may send to (on port `p`), and `(outside)` for address blocks; not the
     * rules without peers (DNS).
     */
    targets: (from: string, p?: number) =>
      [
        ...new Set(
          policies
            .filter((pol) => Object.keys(pol.podSelector).length && selects(pol.podSelector, from))
            .flatMap((pol) =>
              (pol.egress ?? [])
                .filter((r: any) => port(r, p))
                .filter((r: any) => r.to)
                .flatMap((r: any) => [
                  ...components.filter((c) => r.to.some((t: any) => t.podSelector && selects(t.podSelector, c))),
                  ...(r.to.some((t: any) => t.ipBlock) ? ['(outside)'] : []),
                ]),
            ),
        ),
      ].sort(),
  };
}

const test = suite('kubernetes');

test('the seed example: a Deployment and Service for the API, a Job for the client, a StatefulSet for the store', async () => {
  const project = tempProject();
  try {
    const { code, output } = await buildInto(seedApp(), project, ['--target', 'kubernetes']);
    assert.is(code, 0, output);
    const folder = join(project.buildDir, 'kubernetes');
    assert.match(output, 'Wrote starter/build/kubernetes/kustomization.yaml');
    const { files, objects, kustomization } = readManifests(folder);
    assert.equal(
      files,
      [
        `${API}.yaml`,
        `${DB}.yaml`,
        `${CLIENT}.yaml`,
        'every-api.yaml',
        'kustomization.yaml',
        'network-policies.yaml',
      ].sort(),
    );
    assert.equal(
      [...kustomization.resources].sort(),
      files.filter((f) => f !== 'kustomization.yaml'),
    );
    // Secrets live in the files that hold them, and those are private.
    for (const name of [API, DB, CLIENT, 'every-api'])
      assert.is(statSync(join(folder, `${name}.yaml`)).mode & 0o777, 0o600, name);
    assert.is(statSync(join(folder, 'network-policies.yaml')).mode & 0o777, 0o644);

    const of = (kind: string) => objects.filter((o) => o.kind === kind);
    const named = (kind: string, name: string) => of(kind).find((o) => o.metadata.name === name)!;
    assert.equal(
      of('Deployment').map((o) => o.metadata.name),
      [API],
    );
    assert.equal(
      of('Job').map((o) => o.metadata.name),
      [CLIENT],
    );
    assert.equal(
      of('StatefulSet').map((o) => o.metadata.name),
      [DB],
    );
    assert.equal(
      of('Service')
        .map((o) => o.metadata.name)
        .sort(),
      [API, DB].sort(),
    );

    // What was written still validates against the schemas (read back, not the build's objects).
    new Deployment(named('Deployment', API) as any).validate();
    for (const s of of('Service')) new Service(s as any).validate();
    for (const s of of('Secret')) new Secret(s as any).validate();
    for (const p of of('NetworkPolicy')) new NetworkPolicy(p as any).validate();

    const port = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values[
      'my-app.customer-server.api.port'
    ];
    const api = named('Deployment', API).spec;
    assert.is(api.replicas, 1);
    assert.equal(api.selector.matchLabels, { [COMPONENT_LABEL]: API });
    assert.equal(api.template.metadata.labels, {
      [COMPONENT_LABEL]: API,
      'infra-generator/app': 'my-app',
      'infra-generator/role': 'api',
      'infra-generator/calls': 'every-api',
    });
    const container = api.template.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet, { path: '/healthz', port });
    assert.equal(container.livenessProbe.httpGet, { path: '/healthz', port });
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
    assert.equal(
      {
        runAsUser: container.securityContext.runAsUser,
        runAsNonRoot: container.securityContext.runAsNonRoot,
        allowPrivilegeEscalation: container.securityContext.allowPrivilegeEscalation,
      },
      { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false },
    );
    assert.equal(container.envFrom, [{ secretRef: { name: EVERY_API } }, { secretRef: { name: API } }]);
    assert.equal(named('Service', API).spec.ports[0].port, port);

    assert.is(named('Job', CLIENT).metadata.labels!['infra-generator/lifecycle'], 'task');
    const job = named('Job', CLIENT).spec;
    assert.is(job.template.spec.restartPolicy, 'Never');
    assert.ok(job.backoffLimit >= 0 && job.backoffLimit <= 5);
    const clientEnv = Object.fromEntries(job.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.is(clientEnv.PERSONA, 'my-app.example-client');
    assert.is(
      named('Secret', EVERY_API).stringData!.MY_APP__CUSTOMER_SERVER__API__URL,
      `http://${API}:${port}`,
      'the host is the Service name',
    );

    const db = named('StatefulSet', DB).spec;
    assert.is(db.serviceName, DB);
    assert.is(db.template.spec.containers[0].image, 'postgres:17-bookworm');
    assert.is(db.volumeClaimTemplates.length, 1);
    assert.is(named('Service', DB).spec.clusterIP, 'None');

    // Secrets scoped as compose scopes env files: the password reaches the API and the database only.
    const password = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values[
      'my-app.customer-server.db.password'
    ];
    const clientSecret = JSON.stringify(named('Secret', CLIENT).stringData ?? {});
    assert.not.ok(clientSecret.includes(password), 'the client gets no database password');
    assert.not.ok(Object.keys(named('Secret', CLIENT).stringData ?? {}).some((k) => k.endsWith('__DB__URL')));
    assert.ok(JSON.stringify(named('Secret', API).stringData).includes(encodeURIComponent(password)));
    assert.is(named('Secret', DB).stringData!.POSTGRES_PASSWORD, password);
    // The same variables as the compose env file of each persona.
    for (const [name, file] of [
      [API, API],
      [CLIENT, CLIENT],
      [EVERY_API, 'every-api'],
    ]) {
      const keys = Object.keys(readEnvFile(join(project.buildDir, 'env', `${file}.env`)));
      assert.equal(Object.keys(named('Secret', name).stringData ?? {}).sort(), keys.sort(), name);
    }

    const policies = of('NetworkPolicy');
    // Deny and DNS for the app's pods only: the namespace may hold other workloads.
    const app = { matchLabels: { 'infra-generator/app': 'my-app' } };
    assert.equal(named('NetworkPolicy', 'my-app--default-deny').spec, {
      podSelector: app,
      policyTypes: ['Ingress', 'Egress'],
    });
    assert.equal(named('NetworkPolicy', 'my-app--allow-dns').spec, {
      podSelector: app,
      policyTypes: ['Egress'],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    for (const o of [...of('Deployment'), ...of('Job'), ...of('StatefulSet')])
      assert.is(o.spec.template.metadata.labels['infra-generator/app'], 'my-app', o.metadata.name);
    const { sources, targets } = reach(objects);
    // Neither the API nor the client declares `uses`: both may call every API (here, the one).
    assert.equal(sources(DB, 5432), [API], 'only the API reaches the database');
    assert.equal(sources(API, port), [API, CLIENT].sort());
    assert.equal(targets(API), [API, DB].sort());
    assert.equal(targets(CLIENT), [API], 'the client reaches the API, not the database');
    assert.equal(targets(CLIENT, 5432), []);
    // Deny, DNS; the API's store edge (ingress, egress); every-API callers (one ingress per API, one egress).
    assert.is(policies.length, 6);
    assert.equal(named('Secret', EVERY_API).stringData!.MY_APP__CUSTOMER_SERVER__API__URL, `http://${API}:${port}`);
    assert.equal(named('Job', CLIENT).spec.template.spec.containers[0].envFrom, [
      { secretRef: { name: EVERY_API } },
      { secretRef: { name: CLIENT } },
    ]);
  } finally {
    project.remove();
  }
});

test('workers are Deployments probed on their health endpoint; declared use limits the policies; a public API takes outside calls', async () => {
  const project = tempProject();
  try {
    const { code, output } = await buildInto(shopApp(), project, ['--target', 'kubernetes']);
    assert.is(code, 0, output);
    const { objects } = readManifests(join(project.buildDir, 'kubernetes'));
    const names = (kind: string) =>
      objects
        .filter((o) => o.kind === kind)
        .map((o) => o.metadata.name)
        .sort();
    assert.equal(names('Deployment'), ['shop--catalog', 'shop--catalog--indexer', 'shop--orders']);
    assert.equal(names('Job'), ['shop--report']);
    assert.equal(names('StatefulSet'), ['shop--catalog--stock']);
    const worker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'shop--catalog--indexer')!.spec
      .template.spec.containers[0];
    // A worker answers its probes on the health endpoint the variable tells it to serve.
    assert.equal(worker.readinessProbe.httpGet, { path: '/healthz', port: 8081 });
    assert.equal(worker.livenessProbe.httpGet, { path: '/healthz', port: 8081 });
    assert.equal(worker.ports, [{ name: 'health', containerPort: 8081 }]);
    assert.ok(worker.env.some((e: any) => e.name === 'INFRA_HEALTH_PORT' && e.value === '8081'));
    const replicas = (name: string) =>
      objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!.spec.replicas;
    assert.is(replicas('shop--catalog--indexer'), 3);
    assert.is(replicas('shop--orders'), 1);
    assert.is(worker.securityContext.runAsNonRoot, true);
    const { sources, targets } = reach(objects);
    // The APIs and the worker declare nothing, so they may call every API (themselves included).
    assert.equal(sources('shop--orders'), ['shop--catalog', 'shop--catalog--indexer', 'shop--orders', 'shop--report']);
    assert.equal(
      sources('shop--catalog'),
      ['(anyone)', 'shop--catalog', 'shop--catalog--indexer', 'shop--orders'],
      'report declared only orders',
    );
    assert.equal(sources('shop--catalog--stock'), ['shop--catalog', 'shop--catalog--indexer']);
    assert.equal(targets('shop--report'), ['shop--orders'], 'report declared only orders');
    assert.equal(targets('shop--catalog--indexer'), ['shop--catalog', 'shop--catalog--stock', 'shop--orders']);
  } finally {
    project.remove();
  }
});

test('names stay DNS labels for a root of 63 characters; every object carries the app label', async () => {
  const project = tempProject();
  try {
    const id = rootId('r'.repeat(63));
    const api = new ApiServer(id`api`);
    api.defineEndpoint('/ping', async () => 'pong', { method: 'GET' });
    onDeploy(id`task`, async () => {});
    const { code, output } = await buildInto(id, project, ['--target', 'kubernetes']);
    assert.is(code, 0, output);
    const { objects } = readManifests(join(project.buildDir, 'kubernetes'));
    for (const o of objects) {
      assert.ok(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.metadata.name), o.metadata.name);
      assert.is(o.metadata.labels?.['infra-generator/app'], 'r'.repeat(63), `${o.kind} ${o.metadata.name}`);
    }
    assert.is(objects.filter((o) => o.kind === 'Secret').length, 3, "each persona's and the shared one");
  } finally {
    project.remove();
  }
});

test("a component named like one of the build's own outputs is refused, naming it", async () => {
  const project = tempProject();
  try {
    const own = rootId('every-api');
    new ApiServer(own, { uses: [] }).defineEndpoint('/ping', async () => 'pong', { method: 'GET' });
    onDeploy(own`task`, async () => {});
    const clash = await buildInto(own, project);
    assert.is(clash.code, 1);
    assert.match(
      clash.output,
      /ApiServer every-api would be written to starter\/build\/env\/every-api\.env, which the build also writes for something else\. Give the component another name/,
    );

    const id = rootId('shop');
    new ApiServer(id`api`).defineEndpoint('/ping', async () => 'pong', { method: 'GET' });
    new Worker(id`every-api`, async () => {}, { uses: [] });
    const named = await buildInto(id, project, ['--target', 'kubernetes']);
    assert.is(named.code, 1);
    assert.match(
      named.output,
      /would hold Secret shop--every-api twice: a component's name clashes with one the build gives the app's own objects/,
    );
  } finally {
    project.remove();
  }
});

test('replicas: a whole number from 1 for APIs and workers; none for a deploy task', () => {
  const id = rootId('scale');
  assert.is(new ApiServer(id`api`, { replicas: 2 }).replicas, 2);
  assert.is(new Worker(id`worker`, async () => {}).replicas, 1);
  assert.throws(
    () => new Worker(id`w0`, async () => {}, { replicas: 0 }),
    /Worker scale\.w0: replicas must be a whole number from 1 to 1000, not 0/,
  );
  assert.throws(() => new ApiServer(id`a1`, { replicas: 1.5 }), /ApiServer scale\.a1: replicas must be a whole number/);
  assert.throws(
    () => onDeploy(id`task`, async () => {}, { replicas: 2 } as never),
    /DeployTask scale\.task takes no replicas: a deploy task runs once per deployment/,
  );
});

test('compose stays the default: no kubernetes folder without --target', async () => {
  const project = tempProject();
  try {
    const { code, output } = await buildInto(seedApp(), project);
    assert.is(code, 0, output);
    assert.not.ok(readdirSync(project.buildDir).includes('kubernetes'));
    assert.is(parseBuildArgs([]).target, 'compose');
    assert.is(parseBuildArgs(['--target=kubernetes']).target, 'kubernetes');
    assert.throws(() => parseBuildArgs(['--target', 'nomad']), /Unknown build target "nomad"/);
    // A mistyped option stops the build rather than being ignored.
    const typo = await buildInto(seedApp(), project, ['--traget', 'kubernetes']);
    assert.is(typo.code, 1);
    assert.match(typo.output, /^Unknown option '--traget'\nUsage: npm run infra:build -- /);
    const help = await buildInto(seedApp(), project, ['--help']);
    assert.is(help.code, 0);
    assert.match(
      help.output,
      /^Usage: npm run infra:build -- \[--target compose\|kubernetes\] \[--bind-store STORE_ID=URL\|env:VARIABLE\]/,
    );
  } finally {
    project.remove();
  }
});

test('the checks the schemas cannot make', () => {
  const labels = { [COMPONENT_LABEL]: 'a' };
  const deployment = (selector: Record<string, string>, secret = 'a') =>
    new Deployment({
      metadata: { name: 'a' },
      spec: {
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'app', image: 'i', envFrom: [{ secretRef: { name: secret } }] }] },
        },
      },
    });
  const secret = new Secret({ metadata: { name: 'a' }, stringData: {} });
  const select = (name: string) => ({ podSelector: { matchLabels: { [COMPONENT_LABEL]: name } } });
  const deny = new NetworkPolicy({
    metadata: { name: 'deny' },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
  const admit = new NetworkPolicy({
    metadata: { name: 'b-to-a' },
    spec: { ...select('a'), policyTypes: ['Ingress'], ingress: [{ from: [select('b')] }] },
  });
  const send = new NetworkPolicy({
    metadata: { name: 'b-out' },
    spec: { ...select('b'), policyTypes: ['Egress'], egress: [{ to: [select('a')] }] },
  });
  const out = new NetworkPolicy({
    metadata: { name: 'b-outside' },
    spec: { ...select('b'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] },
  });
  const source = new Deployment({
    metadata: { name: 'b' },
    spec: {
      selector: { matchLabels: { [COMPONENT_LABEL]: 'b' } },
      template: {
        metadata: { labels: { [COMPONENT_LABEL]: 'b' } },
        spec: { containers: [{ name: 'app', image: 'i' }] },
      },
    },
  });
  const base = [deployment(labels), source, secret, deny];
  checkManifests('app', [...base, admit, send], [{ from: 'b', to: 'a' }], []);
  checkManifests('app', [...base, out], [{ from: 'b', to: 'db', external: true }], []);
  assert.throws(
    () => checkManifests('app', [deployment({ [COMPONENT_LABEL]: 'x' }), secret, deny], [], []),
    /selector that does not match/,
  );
  assert.throws(
    () => checkManifests('app', [deployment(labels, 'missing'), secret, deny], [], []),
    /Secret missing, which is not generated/,
  );
  assert.throws(
    () => checkManifests('app', [...base, send], [{ from: 'b', to: 'a' }], []),
    /b -> a has no NetworkPolicy admitting it/,
  );
  assert.throws(
    () => checkManifests('app', [...base, admit], [{ from: 'b', to: 'a' }], []),
    /b -> a has no NetworkPolicy letting it out/,
  );
  assert.throws(
    () => checkManifests('app', [...base, admit, send], [{ from: 'b', to: 'db', external: true }], []),
    /b -> db has no NetworkPolicy letting it out of the cluster/,
  );
  assert.throws(() => checkManifests('app', [deployment(labels), secret], [], []), /do not deny ingress by default/);
  const partial = new NetworkPolicy({
    metadata: { name: 'deny-a' },
    spec: { podSelector: { matchLabels: labels }, policyTypes: ['Ingress', 'Egress'] },
  });
  assert.throws(
    () => checkManifests('app', [deployment(labels), source, secret, partial], [], []),
    /do not deny ingress by default/,
    'b is not covered',
  );
  assert.throws(() => checkManifests('app', [...base], [], ['a']), /host a .*no Service/);
  assert.throws(
    () => checkManifests('app', [new Secret({ metadata: { name: 'Not_A_Label' } }), deny], [], []),
    /not a DNS label/,
  );
  const bad = new Deployment({
    metadata: { name: 'a' },
    spec: {
      selector: { matchLabels: labels },
      template: { spec: { containers: [{ name: 'app', image: 'i', ports: [{ containerPort: 'x' as any }] }] } },
    },
  });
  assert.throws(() => checkManifests('app', [bad, deny], [], []), /does not match its schema/);
  const long = dnsLabelOrHash(`${'x'.repeat(60)}--to--${'y'.repeat(60)}`);
  assert.ok(long.length <= 63 && /^[a-z0-9-]+$/.test(long), long);
});

test.run();
