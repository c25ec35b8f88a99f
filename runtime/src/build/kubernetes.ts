/**
 * `--target kubernetes`: the deployment plan as manifests under `<build>/kubernetes/`, one
 * file per component plus a `kustomization.yaml`, for `kubectl apply -k`.
 *
 * The same plan as compose, so a pod sees the same variables as a container: the non-secret
 * ones inline, the ones compose keeps in the persona's env file in that persona's Secret
 * (envFrom). Host names are the Service names (the same DNS labels as compose's services).
 * Reach is NetworkPolicies: deny all ingress, then one policy per edge of the tree.
 * Every object is checked against the Kubernetes schemas and by `checkManifests`.
 */
import { join } from 'node:path';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Service } from 'kubernetes-models/v1/Service';
import { Secret } from 'kubernetes-models/v1/Secret';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { HEALTH_ROUTE } from '../components/api/http-wire.ts';
import { wiring } from '../wiring.ts';
import { edges } from '../access.ts';
import { errors } from '../errors.ts';
import { personaEnvironment, storeConnectionUrl, STORE_PORT, type Addresses, type ApiPlan, type DeploymentPlan, type EnvVar, type PersonaPlan, type StorePlan } from './plan.ts';
import { appImage, POSTGRES_DATA, POSTGRES_IMAGE } from './compose.ts';
import { checkManifests, COMPONENT_LABEL, dnsLabelOrHash, type Manifest } from './kubernetes-check.ts';

/** The files of the kubernetes target: `path` under the build folder, 0600 when it holds a Secret. */
export interface KubernetesFile {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

/** Inside the cluster: Services by name, APIs listening on every interface (as in compose). */
export const kubernetesAddresses: Addresses = {
  listenHost: '0.0.0.0',
  apiUrl: (api) => `http://${api.service}:${api.port}`,
  storeUrl: (store) => storeConnectionUrl(store, store.service),
};

export function kubernetesFolder(buildDir: string): string {
  return join(buildDir, 'kubernetes');
}

const labels = (service: string) => ({ [COMPONENT_LABEL]: service });

/** The image runs as the `node` user (uid 1000) and needs nothing more. */
const appSecurity: IContainer['securityContext'] = {
  runAsUser: 1000,
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const appResources: IContainer['resources'] = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

/** Secrets (and the bulky tree listing) to the Secret, the rest inline: the split of compose's env files. */
function splitEnvironment(vars: readonly EnvVar[]): { inline: EnvVar[]; secret: EnvVar[] } {
  const inline: EnvVar[] = [];
  const secret: EnvVar[] = [];
  for (const v of vars) (v.secret || v.name === wiring.treeListing ? secret : inline).push(v);
  return { inline, secret };
}

function appContainer(plan: DeploymentPlan, persona: PersonaPlan, inline: readonly EnvVar[]): IContainer {
  const container: IContainer = {
    name: 'app',
    image: appImage(plan),
    env: inline.map((v) => ({ name: v.name, value: v.value })),
    envFrom: [{ secretRef: { name: persona.service } }],
    resources: appResources,
    securityContext: appSecurity,
  };
  const api = persona.api;
  if (api) {
    container.ports = [{ name: 'http', containerPort: api.port }];
    const probe = { httpGet: { path: HEALTH_ROUTE, port: api.port } };
    container.readinessProbe = { ...probe, periodSeconds: 5, failureThreshold: 3 };
    container.livenessProbe = { ...probe, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 };
  }
  return container;
}

function podSpec(container: IContainer, restartPolicy: 'Always' | 'Never'): IPodSpec {
  return { restartPolicy, automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, runAsUser: 1000 }, containers: [container] };
}

function personaObjects(plan: DeploymentPlan, persona: PersonaPlan): Manifest[] {
  const { inline, secret } = splitEnvironment(personaEnvironment(plan, persona, kubernetesAddresses));
  const name = persona.service;
  const metadata = { name, labels: labels(name) };
  const objects: Manifest[] = [
    new Secret({ metadata, type: 'Opaque', stringData: Object.fromEntries(secret.map((v) => [v.name, v.value])) }),
  ];
  const container = appContainer(plan, persona, inline);
  const template = { metadata: { labels: labels(name) }, spec: podSpec(container, persona.persona.lifecycle === 'task' ? 'Never' : 'Always') };
  if (persona.persona.lifecycle === 'task') {
    // A deploy task runs once; a few retries cover an API that is not ready yet.
    objects.push(new Job({ metadata, spec: { backoffLimit: 3, template } }));
  } else {
    objects.push(new Deployment({ metadata, spec: { replicas: 1, selector: { matchLabels: labels(name) }, template } }));
  }
  if (persona.api) objects.push(apiService(persona.api));
  return objects;
}

function apiService(api: ApiPlan): Manifest {
  return new Service({
    metadata: { name: api.service, labels: labels(api.service) },
    spec: { selector: labels(api.service), ports: [{ name: 'http', port: api.port, targetPort: api.port }] },
  });
}

function storeObjects(store: StorePlan): Manifest[] {
  const name = store.service;
  const metadata = { name, labels: labels(name) };
  const ready = { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', String(STORE_PORT), '-U', store.user, '-d', store.database] } };
  return [
    new Secret({ metadata, type: 'Opaque', stringData: { POSTGRES_PASSWORD: store.password } }),
    new Service({ metadata, spec: { clusterIP: 'None', selector: labels(name), ports: [{ name: 'postgres', port: STORE_PORT, targetPort: STORE_PORT }] } }),
    new StatefulSet({
      metadata,
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: labels(name) },
        template: {
          metadata: { labels: labels(name) },
          spec: {
            automountServiceAccountToken: false,
            // The postgres user of the image, owning the volume through its group.
            securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true },
            containers: [
              {
                name: 'postgres',
                image: POSTGRES_IMAGE,
                // A fresh volume has lost+found at its root; the data lives one folder down.
                env: [
                  { name: 'POSTGRES_USER', value: store.user },
                  { name: 'POSTGRES_DB', value: store.database },
                  { name: 'PGDATA', value: `${POSTGRES_DATA}/pgdata` },
                ],
                envFrom: [{ secretRef: { name } }],
                ports: [{ name: 'postgres', containerPort: STORE_PORT }],
                volumeMounts: [{ name: 'data', mountPath: POSTGRES_DATA }],
                readinessProbe: { ...ready, periodSeconds: 5 },
                livenessProbe: { ...ready, initialDelaySeconds: 30, periodSeconds: 10 },
                resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    }),
  ];
}

/** Deny all ingress; then each edge (a persona using a Store, calling an API) its own policy. */
function networkPolicies(plan: DeploymentPlan): Manifest[] {
  const policy = (from: string, to: string, port: number) =>
    new NetworkPolicy({
      metadata: { name: dnsLabelOrHash(`${from}--to--${to}`), labels: labels(to) },
      spec: {
        podSelector: { matchLabels: labels(to) },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: labels(from) } }], ports: [{ protocol: 'TCP', port }] }],
      },
    });
  const out: Manifest[] = [new NetworkPolicy({ metadata: { name: 'default-deny-ingress' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } })];
  for (const persona of plan.personas) {
    for (const store of persona.stores) out.push(policy(persona.service, store.service, STORE_PORT));
    for (const api of persona.calls) out.push(policy(persona.service, api.service, api.port));
  }
  // A public API takes calls from outside the tree (an ingress or load balancer) too.
  for (const api of plan.apis.filter((a) => a.server.public)) {
    out.push(
      new NetworkPolicy({
        metadata: { name: dnsLabelOrHash(`${api.service}--public`), labels: labels(api.service) },
        spec: { podSelector: { matchLabels: labels(api.service) }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: api.port }] }] },
      }),
    );
  }
  return out;
}

function render(objects: readonly Manifest[], header: string): string {
  return objects
    .map((o, i) => {
      const document = new YAML.Document(o.toJSON(), { aliasDuplicateObjects: false });
      if (i === 0) document.commentBefore = header;
      return document.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

/** The manifests of `plan`, one file per component plus the kustomization, checked before returning. */
export function kubernetesFiles(plan: DeploymentPlan, buildDir: string): KubernetesFile[] {
  const folder = kubernetesFolder(buildDir);
  const header = ` Generated by \`npm run infra:build -- --target kubernetes\` from the component tree of ${plan.app.root.value}: do not edit, build again.`;
  const groups: { name: string; objects: Manifest[] }[] = [
    { name: 'network-policies', objects: networkPolicies(plan) },
    ...plan.stores.map((s) => ({ name: s.service, objects: storeObjects(s) })),
    ...plan.personas.map((p) => ({ name: p.service, objects: personaObjects(plan, p) })),
  ];
  const all = groups.flatMap((g) => g.objects);
  checkManifests(plan.app.root.value, all, edges(plan.app).map((e) => ({ from: e.from.id.dnsLabel, to: e.to.id.dnsLabel })), [
    ...plan.personas.flatMap((p) => [...p.calls.map((a) => a.service), ...p.stores.map((s) => s.service)]),
  ]);
  const files: KubernetesFile[] = groups.map((g) => ({
    path: join(folder, `${g.name}.yaml`),
    text: render(g.objects, header),
    mode: g.objects.some((o) => o.kind === 'Secret') ? 0o600 : 0o644,
  }));
  const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: groups.map((g) => `${g.name}.yaml`) };
  const document = new YAML.Document(kustomization);
  document.commentBefore = `${header}\n Apply with \`kubectl apply -k\` on this folder; the Secrets' files are mode 0600.`;
  files.push({ path: join(folder, 'kustomization.yaml'), text: document.toString({ lineWidth: 0 }), mode: 0o644 });
  return files;
}
