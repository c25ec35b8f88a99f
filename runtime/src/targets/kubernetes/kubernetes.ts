/**
 * `--target kubernetes`: the deployment plan as manifests under `<build>/kubernetes/`, one
 * file per component plus a `kustomization.yaml`, for `kubectl apply -k`.
 *
 * The same plan as compose, so a pod sees the same variables as a container: the non-secret
 * ones inline, the ones compose keeps in the persona's env file in that persona's Secret
 * (envFrom). Host names are the Service names (the same DNS labels as compose's services).
 * Reach is NetworkPolicies, for the app's pods only (labelled with the app): deny all traffic
 * in and out but DNS, then per edge of the tree an ingress policy on its target and, per
 * persona, an egress policy to its targets; the personas that declared no `uses` share one
 * label-selected pair of policies instead of an edge each; with `--otlp-endpoint`, one more lets
 * every persona reach the collector's port. Every object carries the app label,
 * so `kubectl` can select (and prune) the app's objects. Every object is checked against the
 * Kubernetes schemas and by `checkManifests` before anything is written.
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
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { isIP } from 'node:net';
import { HEALTH_ROUTE } from '../../components/api/http-wire.ts';
import { eachEdge } from '../../core/access.ts';
import type { Component } from '../../core/component.ts';
import {
  containerAddresses,
  everyApiEnvironment,
  personaEnvironment,
  splitEnvironment,
  STORE_PORT,
  WORKER_HEALTH_PORT,
  type ApiPlan,
  type DeploymentPlan,
  type EnvVar,
  type PersonaPlan,
  type StorePlan,
} from '../../plan/plan.ts';
import {
  appImage,
  appImageName,
  dockerfilePath,
  EVERY_API,
  POSTGRES_DATA,
  POSTGRES_IMAGE,
  postgresEnvironment,
  oneLine,
  postgresReadyCommand,
} from '../shared.ts';
import type { OutputFile, Target } from '../target.ts';
import { composePath } from '../../private/project-path.ts';
import { checkManifests, COMPONENT_LABEL, dnsLabelOrHash, type Manifest } from './kubernetes-check.ts';

/** On API pods, so that one egress policy can reach them all. */
const ROLE_LABEL = 'infra-generator/role';
/**
 * On every pod, naming the app (its root's DNS label): the app's own policies select its pods
 * only, so applying it into a namespace shared with other workloads leaves theirs alone.
 */
const APP_LABEL = 'infra-generator/app';
/** On the pods of personas that declared no `uses` (they may call every API). */
const CALLS_LABEL = 'infra-generator/calls';
/** On the personas' pods when they send telemetry to `--otlp-endpoint` (not the databases'). */
const TELEMETRY_LABEL = 'infra-generator/telemetry';

/**
 * On the deploy tasks' Jobs: `kubectl delete jobs -l infra-generator/lifecycle=task` before
 * applying runs them again.
 */
const LIFECYCLE_LABEL = 'infra-generator/lifecycle';

function kubernetesFolder(buildDir: string): string {
  return join(buildDir, 'kubernetes');
}

const labels = (service: string) => ({ [COMPONENT_LABEL]: service });
const podLabelsOf = (plan: DeploymentPlan, service: string) => ({
  ...labels(service),
  [APP_LABEL]: plan.app.root.dnsLabel,
});
/** The Secret of what every persona that calls every API shares (named for the app: a namespace may hold several). */
const everyApiName = (plan: DeploymentPlan) => appObjectName(plan, EVERY_API);
/** The name of an object of the whole app (`<root>--<what>`), within a DNS label however long the root. */
const appObjectName = (plan: DeploymentPlan, what: string) => dnsLabelOrHash(`${plan.app.root.dnsLabel}--${what}`);

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

function appContainer(plan: DeploymentPlan, persona: PersonaPlan, inline: readonly EnvVar[]): IContainer {
  const container: IContainer = {
    name: 'app',
    image: appImage(plan),
    env: inline.map((v) => ({ name: v.name, value: v.value })),
    // The shared Secret first: where both name a variable (its own API's), they agree.
    envFrom: [
      ...(persona.callsEveryApi && plan.someCallEveryApi ? [{ secretRef: { name: everyApiName(plan) } }] : []),
      { secretRef: { name: persona.service } },
    ],
    resources: appResources,
    securityContext: appSecurity,
  };
  // An API's own port, or a worker's health endpoint: both answer GET /healthz.
  const port = persona.api?.port ?? (persona.persona.lifecycle === 'worker' ? WORKER_HEALTH_PORT : undefined);
  if (port !== undefined) {
    container.ports = [{ name: persona.api ? 'http' : 'health', containerPort: port }];
    const probe = { httpGet: { path: HEALTH_ROUTE, port } };
    container.readinessProbe = { ...probe, periodSeconds: 5, failureThreshold: 3 };
    container.livenessProbe = { ...probe, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 };
  }
  return container;
}

function podSpec(container: IContainer, restartPolicy: 'Always' | 'Never'): IPodSpec {
  return {
    restartPolicy,
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 1000 },
    containers: [container],
  };
}

function personaObjects(plan: DeploymentPlan, persona: PersonaPlan): Manifest[] {
  const { inline, secret } = splitEnvironment(
    personaEnvironment(plan, persona, containerAddresses, { withoutEveryApi: true }),
  );
  const name = persona.service;
  const metadata = { name, labels: labels(name) };
  const objects: Manifest[] = [
    new Secret({ metadata, type: 'Opaque', stringData: Object.fromEntries(secret.map((v) => [v.name, v.value])) }),
  ];
  const container = appContainer(plan, persona, inline);
  const podLabels = {
    ...podLabelsOf(plan, name),
    ...(persona.api ? { [ROLE_LABEL]: 'api' } : {}),
    ...(persona.callsEveryApi ? { [CALLS_LABEL]: EVERY_API } : {}),
    ...(plan.telemetry.otlpEndpoint !== undefined ? { [TELEMETRY_LABEL]: 'otlp' } : {}),
  };
  const template = {
    metadata: { labels: podLabels },
    spec: podSpec(container, persona.persona.lifecycle === 'task' ? 'Never' : 'Always'),
  };
  if (persona.persona.lifecycle === 'task') {
    // A deploy task runs once; a few retries cover an API that is not ready yet.
    // A Job's template cannot change, and a finished Job does not run again: the README's deploy
    // command deletes the task Jobs before applying; the TTL clears finished ones meanwhile.
    objects.push(
      new Job({
        metadata: { ...metadata, labels: { ...metadata.labels, [LIFECYCLE_LABEL]: 'task' } },
        spec: { backoffLimit: 3, ttlSecondsAfterFinished: 86_400, template },
      }),
    );
  } else {
    objects.push(
      new Deployment({
        metadata,
        spec: { replicas: persona.persona.replicas, selector: { matchLabels: labels(name) }, template },
      }),
    );
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

function storeObjects(plan: DeploymentPlan, store: StorePlan): Manifest[] {
  const name = store.service;
  const metadata = { name, labels: labels(name) };
  const ready = { exec: { command: postgresReadyCommand(store) } };
  const postgres = postgresEnvironment(store);
  return [
    new Secret({ metadata, type: 'Opaque', stringData: postgres.secret }),
    new Service({
      metadata,
      spec: {
        clusterIP: 'None',
        selector: labels(name),
        ports: [{ name: 'postgres', port: STORE_PORT, targetPort: STORE_PORT }],
      },
    }),
    new StatefulSet({
      metadata,
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: labels(name) },
        template: {
          metadata: { labels: podLabelsOf(plan, name) },
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
                  ...Object.entries(postgres.inline).map(([name, value]) => ({ name, value })),
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
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    }),
  ];
}

/**
 * Deny all traffic, in and out; allow DNS lookups out; then each edge of the tree (a persona
 * using a Store, calling an API) an ingress policy on its target, and each persona one egress
 * policy to its targets. A bound Store is outside the cluster: its owners may reach its port
 * (at its IP when the URL names one; a host name may resolve anywhere).
 */
function networkPolicies(plan: DeploymentPlan): Manifest[] {
  const tcp = (port: number) => ({ protocol: 'TCP' as const, port });
  const select = (service: string) => ({ podSelector: { matchLabels: labels(service) } });
  const app = { matchLabels: { [APP_LABEL]: plan.app.root.dnsLabel } };
  const out: Manifest[] = [
    new NetworkPolicy({
      metadata: { name: appObjectName(plan, 'default-deny') },
      spec: { podSelector: app, policyTypes: ['Ingress', 'Egress'] },
    }),
    // Service names resolve through the cluster's DNS, wherever it runs (kube-dns pods, node-local caches).
    new NetworkPolicy({
      metadata: { name: appObjectName(plan, 'allow-dns') },
      spec: {
        podSelector: app,
        policyTypes: ['Egress'],
        egress: [{ ports: [{ protocol: 'UDP' as const, port: 53 }, tcp(53)] }],
      },
    }),
  ];
  const ingress = (from: string, to: string, port: number) =>
    new NetworkPolicy({
      metadata: { name: dnsLabelOrHash(`${from}--to--${to}`), labels: labels(to) },
      spec: { ...select(to), policyTypes: ['Ingress'], ingress: [{ from: [select(from)], ports: [tcp(port)] }] },
    });
  for (const persona of plan.personas) {
    const egress: NonNullable<INetworkPolicySpec['egress']> = [];
    for (const store of persona.stores) {
      if (store.binding === undefined) {
        out.push(ingress(persona.service, store.service, STORE_PORT));
        egress.push({ to: [select(store.service)], ports: [tcp(STORE_PORT)] });
      } else {
        egress.push(boundStoreEgress(store.binding));
      }
    }
    if (!persona.callsEveryApi) {
      for (const api of persona.calls) {
        out.push(ingress(persona.service, api.service, api.port));
        egress.push({ to: [select(api.service)], ports: [tcp(api.port)] });
      }
    }
    if (egress.length) {
      out.push(
        new NetworkPolicy({
          metadata: { name: dnsLabelOrHash(`${persona.service}--egress`), labels: labels(persona.service) },
          spec: { ...select(persona.service), policyTypes: ['Egress'], egress },
        }),
      );
    }
  }
  // Personas that may call every API: one ingress policy per API and one egress policy for them all.
  if (plan.someCallEveryApi) {
    const callers = { podSelector: { matchLabels: { ...app.matchLabels, [CALLS_LABEL]: EVERY_API } } };
    for (const api of plan.apis) {
      out.push(
        new NetworkPolicy({
          metadata: { name: dnsLabelOrHash(`${api.service}--from-${EVERY_API}-callers`), labels: labels(api.service) },
          spec: {
            ...select(api.service),
            policyTypes: ['Ingress'],
            ingress: [{ from: [callers], ports: [tcp(api.port)] }],
          },
        }),
      );
    }
    out.push(
      new NetworkPolicy({
        metadata: { name: appObjectName(plan, `${EVERY_API}-callers--egress`) },
        spec: {
          ...callers,
          policyTypes: ['Egress'],
          egress: [
            {
              to: [{ podSelector: { matchLabels: { ...app.matchLabels, [ROLE_LABEL]: 'api' } } }],
              ports: [...new Set(plan.apis.map((a) => a.port))].map(tcp),
            },
          ],
        },
      }),
    );
  }
  if (plan.telemetry.otlpEndpoint !== undefined) out.push(otlpEgressPolicy(plan, plan.telemetry.otlpEndpoint));
  // A public API takes calls from outside the tree (an ingress or load balancer) too.
  for (const api of plan.apis.filter((a) => a.server.public)) {
    out.push(
      new NetworkPolicy({
        metadata: { name: dnsLabelOrHash(`${api.service}--public`), labels: labels(api.service) },
        spec: { ...select(api.service), policyTypes: ['Ingress'], ingress: [{ ports: [tcp(api.port)] }] },
      }),
    );
  }
  return out;
}

/**
 * The personas' egress to the OTLP collector's port: to its address when the URL gives an IP;
 * else (a Service's name, usually in another namespace) to any pod of the cluster and any
 * address outside it, as a policy cannot name a host.
 */
function otlpEgressPolicy(plan: DeploymentPlan, endpoint: string): Manifest {
  const url = new URL(endpoint);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const to = egressPeers(url.hostname, { anyPod: true });
  return new NetworkPolicy({
    metadata: { name: appObjectName(plan, 'otlp-export') },
    spec: {
      podSelector: { matchLabels: { [APP_LABEL]: plan.app.root.dnsLabel, [TELEMETRY_LABEL]: 'otlp' } },
      policyTypes: ['Egress'],
      egress: [{ to, ports: [{ protocol: 'TCP' as const, port }] }],
    },
  });
}

/**
 * Where egress to `hostname` may go: its address when it is an IP; otherwise anywhere outside the
 * cluster (a policy cannot name a host) and, with `anyPod`, any pod of the cluster (a Service).
 */
function egressPeers(hostname: string, { anyPod }: { anyPod: boolean }): INetworkPolicyPeer[] {
  const host = hostname.replace(/^\[|\]$/g, '');
  const ip = isIP(host);
  if (ip === 4) return [{ ipBlock: { cidr: `${host}/32` } }];
  if (ip === 6) return [{ ipBlock: { cidr: `${host}/128` } }];
  return [
    ...(anyPod ? [{ namespaceSelector: {} }] : []),
    { ipBlock: { cidr: '0.0.0.0/0' } },
    { ipBlock: { cidr: '::/0' } },
  ];
}

/** Egress to a bound Store's port: to its address when the URL gives an IP, else to any. */
function boundStoreEgress(url: string): NonNullable<INetworkPolicySpec['egress']>[number] {
  const { hostname, port } = new URL(url);
  const to = egressPeers(hostname, { anyPod: false });
  return { to, ports: [{ protocol: 'TCP' as const, port: port ? Number(port) : STORE_PORT }] };
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

/**
 * The manifests of `plan`, one file per component (0600 when it holds a Secret) plus the
 * kustomization, checked before returning.
 */
function kubernetesFiles(plan: DeploymentPlan, buildDir: string): OutputFile[] {
  const folder = kubernetesFolder(buildDir);
  const header = ` Generated by \`npm run infra:build -- --target kubernetes\` from the component tree of ${oneLine(plan.app.root.value)}: do not edit, build again.`;
  const everyApi = splitEnvironment(everyApiEnvironment(plan, containerAddresses));
  const groups: { name: string; objects: Manifest[] }[] = [
    { name: 'network-policies', objects: networkPolicies(plan) },
    // What every persona that calls every API gets alike, once (all of it in the Secret: inline,
    // the URLs would be repeated in each of their pods).
    ...(plan.someCallEveryApi
      ? [
          {
            name: EVERY_API,
            objects: [
              new Secret({
                metadata: { name: everyApiName(plan) },
                type: 'Opaque',
                stringData: Object.fromEntries([...everyApi.inline, ...everyApi.secret].map((v) => [v.name, v.value])),
              }),
            ],
          },
        ]
      : []),
    ...plan.stores
      .filter((s) => s.binding === undefined)
      .map((s) => ({ name: s.service, objects: storeObjects(plan, s) })),
    ...plan.personas.map((p) => ({ name: p.service, objects: personaObjects(plan, p) })),
  ];
  const all = groups.flatMap((g) => g.objects);
  for (const object of all) {
    const metadata = object.metadata as { labels?: Record<string, string> };
    metadata.labels = { ...metadata.labels, [APP_LABEL]: plan.app.root.dnsLabel };
  }
  const bound = new Set<Component>(plan.stores.filter((s) => s.binding !== undefined).map((s) => s.store));
  // One at a time: with personas that call every API there are personas times APIs of them.
  const treeEdges = eachEdge(plan.app).map((e) => ({
    from: e.from.id.dnsLabel,
    to: e.to.id.dnsLabel,
    external: bound.has(e.to),
  }));
  const hosts = new Set<string>(plan.someCallEveryApi ? plan.apis.map((a) => a.service) : []);
  for (const p of plan.personas) {
    if (!p.callsEveryApi) for (const a of p.calls) hosts.add(a.service);
    for (const s of p.stores) if (s.binding === undefined) hosts.add(s.service);
  }
  checkManifests(plan.app.root.value, all, treeEdges, [...hosts]);
  const files: OutputFile[] = groups.map((g) => ({
    path: join(folder, `${g.name}.yaml`),
    text: render(g.objects, header),
    mode: g.objects.some((o) => o.kind === 'Secret') ? 0o600 : 0o644,
  }));
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: groups.map((g) => `${g.name}.yaml`),
  };
  const document = new YAML.Document(kustomization);
  document.commentBefore = `${header}\n Apply with \`kubectl apply -k\` on this folder; the Secrets' files are mode 0600.`;
  const text = document.toString({ lineWidth: 0 });
  files.push({ path: join(folder, 'kustomization.yaml'), text, mode: 0o644, namesOthers: true });
  return files;
}

/**
 * The kubernetes target (`--target kubernetes`): `<build>/kubernetes/`, its own folder. Its next
 * steps build and push the image, point the manifests at it and apply them.
 */
export const target: Target = {
  name: 'kubernetes',
  files: (plan, { paths }) => kubernetesFiles(plan, paths.buildDir),
  ownFolder: (paths) => ({ path: kubernetesFolder(paths.buildDir), suffix: '.yaml' }),
  nextSteps(plan, paths) {
    const show = (path: string) => composePath(paths.projectRoot, path);
    const folder = show(kubernetesFolder(paths.buildDir));
    const root = plan.app.root.dnsLabel;
    const image = `registry.example.com/${appImageName(plan)}:1`;
    return [
      'Next: build and push the image, point the manifests at it, apply them (registry.example.com/…:1 stands for your registry and tag):',
      `  docker build -f ${show(dockerfilePath(paths.buildDir))} -t ${image} .`,
      `  docker push ${image}`,
      `  (cd ${folder} && kustomize edit set image ${appImageName(plan)}=${image})`,
      `  kubectl delete jobs -l ${APP_LABEL}=${root},${LIFECYCLE_LABEL}=task --ignore-not-found`,
      `  kubectl apply -k ${folder}`,
    ].join('\n');
  },
};
