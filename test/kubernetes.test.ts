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
import { ApiServer, onDeploy, rootId, Store, Worker } from 'infra-generator';
import { tempProject } from './support/temp-project.ts';
import { buildInto, seedApp } from './support/seed-app.ts';
import { checkManifests, COMPONENT_LABEL, dnsLabelOrHash } from '../runtime/src/build/kubernetes-check.ts';
import { buildTarget } from '../runtime/src/build/target.ts';

const DB = 'my-app--customer-server--db';
const API = 'my-app--customer-server--api';
const CLIENT = 'my-app--example-client';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; stringData?: Record<string, string> };

function readManifests(folder: string): { files: string[]; objects: Obj[]; kustomization: any } {
  const files = readdirSync(folder).sort();
  const objects = files
    .filter((f) => f !== 'kustomization.yaml')
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(join(folder, f), 'utf8')).map((d) => d.toJSON() as Obj));
  return { files, objects, kustomization: YAML.parse(readFileSync(join(folder, 'kustomization.yaml'), 'utf8')) };
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
    assert.equal(files, [`${API}.yaml`, `${DB}.yaml`, `${CLIENT}.yaml`, 'kustomization.yaml', 'network-policies.yaml'].sort());
    assert.equal([...kustomization.resources].sort(), files.filter((f) => f !== 'kustomization.yaml'));
    // Secrets live in the files that hold them, and those are private.
    for (const name of [API, DB, CLIENT]) assert.is(statSync(join(folder, `${name}.yaml`)).mode & 0o777, 0o600, name);
    assert.is(statSync(join(folder, 'network-policies.yaml')).mode & 0o777, 0o644);

    const of = (kind: string) => objects.filter((o) => o.kind === kind);
    const named = (kind: string, name: string) => of(kind).find((o) => o.metadata.name === name)!;
    assert.equal(of('Deployment').map((o) => o.metadata.name), [API]);
    assert.equal(of('Job').map((o) => o.metadata.name), [CLIENT]);
    assert.equal(of('StatefulSet').map((o) => o.metadata.name), [DB]);
    assert.equal(of('Service').map((o) => o.metadata.name).sort(), [API, DB].sort());

    // What was written still validates against the schemas (read back, not the build's objects).
    new Deployment(named('Deployment', API) as any).validate();
    for (const s of of('Service')) new Service(s as any).validate();
    for (const s of of('Secret')) new Secret(s as any).validate();
    for (const p of of('NetworkPolicy')) new NetworkPolicy(p as any).validate();

    const port = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values['my-app.customer-server.api.port'];
    const api = named('Deployment', API).spec;
    assert.is(api.replicas, 1);
    assert.equal(api.selector.matchLabels, api.template.metadata.labels);
    const container = api.template.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet, { path: '/healthz', port });
    assert.equal(container.livenessProbe.httpGet, { path: '/healthz', port });
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
    assert.equal(
      { runAsUser: container.securityContext.runAsUser, runAsNonRoot: container.securityContext.runAsNonRoot, allowPrivilegeEscalation: container.securityContext.allowPrivilegeEscalation },
      { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false },
    );
    assert.equal(container.envFrom, [{ secretRef: { name: API } }]);
    assert.equal(named('Service', API).spec.ports[0].port, port);

    const job = named('Job', CLIENT).spec;
    assert.is(job.template.spec.restartPolicy, 'Never');
    assert.ok(job.backoffLimit >= 0 && job.backoffLimit <= 5);
    const clientEnv = Object.fromEntries(job.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.is(clientEnv.MY_APP__CUSTOMER_SERVER__API__URL, `http://${API}:${port}`, 'the host is the Service name');

    const db = named('StatefulSet', DB).spec;
    assert.is(db.serviceName, DB);
    assert.is(db.template.spec.containers[0].image, 'postgres:17-bookworm');
    assert.is(db.volumeClaimTemplates.length, 1);
    assert.is(named('Service', DB).spec.clusterIP, 'None');

    // Secrets scoped as compose scopes env files: the password reaches the API and the database only.
    const password = JSON.parse(readFileSync(join(project.buildDir, 'values.json'), 'utf8')).values['my-app.customer-server.db.password'];
    const clientSecret = JSON.stringify(named('Secret', CLIENT).stringData ?? {});
    assert.not.ok(clientSecret.includes(password), 'the client gets no database password');
    assert.not.ok(Object.keys(named('Secret', CLIENT).stringData ?? {}).some((k) => k.endsWith('__DB__URL')));
    assert.ok(JSON.stringify(named('Secret', API).stringData).includes(encodeURIComponent(password)));
    assert.is(named('Secret', DB).stringData!.POSTGRES_PASSWORD, password);
    // The same variables as the compose env file of each persona.
    for (const name of [API, CLIENT]) {
      const env = readFileSync(join(project.buildDir, 'env', `${name}.env`), 'utf8');
      const keys = env.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
      assert.equal(Object.keys(named('Secret', name).stringData ?? {}).sort(), keys.sort(), name);
    }

    const policies = of('NetworkPolicy');
    const deny = named('NetworkPolicy', 'default-deny-ingress').spec;
    assert.equal(deny, { podSelector: {}, policyTypes: ['Ingress'] });
    const allows = (from: string, to: string, p: number) =>
      policies.some(
        (o) =>
          o.spec.podSelector.matchLabels?.[COMPONENT_LABEL] === to &&
          o.spec.ingress?.some((r: any) => r.from?.some((f: any) => f.podSelector.matchLabels[COMPONENT_LABEL] === from) && r.ports.some((x: any) => x.port === p)),
      );
    assert.ok(allows(API, DB, 5432), 'api -> db');
    assert.ok(allows(CLIENT, API, port), 'client -> api');
    assert.not.ok(allows(CLIENT, DB, 5432), 'no client -> db');
    assert.is(policies.length, 3);
  } finally {
    project.remove();
  }
});

test('workers are Deployments without probes; declared use limits the policies; a public API takes outside calls', async () => {
  const project = tempProject();
  try {
    const id = rootId('shop');
    const orders = new ApiServer(id`orders`);
    const list = orders.defineEndpoint('/list', async () => [] as string[], { method: 'GET' });
    const catalog = new ApiServer(id`catalog`, { public: true });
    catalog.defineEndpoint('/items', async () => [] as string[], { method: 'GET' });
    const stock = new Store(id`catalog``stock`);
    new Worker(id`catalog``indexer`, async () => void (await stock.allKeys().next()));
    onDeploy(id`report`, async () => void (await list()), { uses: [list] });
    const { code, output } = await buildInto(id, project, ['--target', 'kubernetes']);
    assert.is(code, 0, output);
    const { objects } = readManifests(join(project.buildDir, 'kubernetes'));
    const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
    assert.equal(names('Deployment'), ['shop--catalog', 'shop--catalog--indexer', 'shop--orders']);
    assert.equal(names('Job'), ['shop--report']);
    assert.equal(names('StatefulSet'), ['shop--catalog--stock']);
    const worker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'shop--catalog--indexer')!.spec.template.spec.containers[0];
    assert.is(worker.readinessProbe, undefined);
    assert.is(worker.securityContext.runAsNonRoot, true);
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const sources = (to: string) =>
      policies
        .filter((p) => p.spec.podSelector.matchLabels?.[COMPONENT_LABEL] === to)
        .flatMap((p) => p.spec.ingress.flatMap((r: any) => (r.from ?? [{ podSelector: { matchLabels: { [COMPONENT_LABEL]: '(anyone)' } } }]).map((f: any) => f.podSelector.matchLabels[COMPONENT_LABEL])))
        .sort();
    assert.equal(sources('shop--orders'), ['shop--catalog', 'shop--catalog--indexer', 'shop--report']);
    assert.equal(sources('shop--catalog'), ['(anyone)', 'shop--catalog--indexer', 'shop--orders'], 'report declared only orders');
    assert.equal(sources('shop--catalog--stock'), ['shop--catalog', 'shop--catalog--indexer']);
  } finally {
    project.remove();
  }
});

test('compose stays the default: no kubernetes folder without --target', async () => {
  const project = tempProject();
  try {
    const { code, output } = await buildInto(seedApp(), project);
    assert.is(code, 0, output);
    assert.not.ok(readdirSync(project.buildDir).includes('kubernetes'));
    assert.is(buildTarget([]), 'compose');
    assert.is(buildTarget(['--target=kubernetes']), 'kubernetes');
    assert.throws(() => buildTarget(['--target', 'nomad']), /INFRA_UNKNOWN_TARGET|Unknown build target "nomad"/);
  } finally {
    project.remove();
  }
});

test('the checks the schemas cannot make', () => {
  const labels = { [COMPONENT_LABEL]: 'a' };
  const deployment = (selector: Record<string, string>, secret = 'a') =>
    new Deployment({
      metadata: { name: 'a' },
      spec: { selector: { matchLabels: selector }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'i', envFrom: [{ secretRef: { name: secret } }] }] } } },
    });
  const secret = new Secret({ metadata: { name: 'a' }, stringData: {} });
  const policy = new NetworkPolicy({
    metadata: { name: 'b-to-a' },
    spec: { podSelector: { matchLabels: labels }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { [COMPONENT_LABEL]: 'b' } } }] }] },
  });
  checkManifests('app', [deployment(labels), secret, policy], [{ from: 'b', to: 'a' }], []);
  assert.throws(() => checkManifests('app', [deployment({ [COMPONENT_LABEL]: 'x' }), secret], [], []), /selector that does not match/);
  assert.throws(() => checkManifests('app', [deployment(labels, 'missing'), secret], [], []), /Secret missing, which is not generated/);
  assert.throws(() => checkManifests('app', [deployment(labels), secret], [{ from: 'b', to: 'a' }], []), /b -> a.*no NetworkPolicy/);
  assert.throws(() => checkManifests('app', [deployment(labels), secret], [], ['a']), /host a .*no Service/);
  assert.throws(() => checkManifests('app', [new Secret({ metadata: { name: 'Not_A_Label' } })], [], []), /not a DNS label/);
  const bad = new Deployment({ metadata: { name: 'a' }, spec: { selector: { matchLabels: labels }, template: { spec: { containers: [{ name: 'app', image: 'i', ports: [{ containerPort: 'x' as any }] }] } } } });
  assert.throws(() => checkManifests('app', [bad], [], []), /does not match its schema/);
  const long = dnsLabelOrHash(`${'x'.repeat(60)}--to--${'y'.repeat(60)}`);
  assert.ok(long.length <= 63 && /^[a-z0-9-]+$/.test(long), long);
});

test.run();
