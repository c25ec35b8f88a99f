/**
 * What the Kubernetes schemas cannot check about the generated manifests, checked before
 * anything is written: every object valid against its schema, names DNS labels, each
 * workload's selector matching its pod labels, every Secret and Service referred to present,
 * and every edge of the tree with its NetworkPolicy.
 */
import { createHash } from 'node:crypto';
import { errors } from '../errors.ts';

/** The label that ties a component's pods, Services and policies together (its DNS label). */
export const COMPONENT_LABEL = 'infra-generator/component';

/** A kubernetes-models object: what the check reads of it. */
export interface Manifest {
  readonly kind?: string;
  readonly metadata?: { name?: string; labels?: Record<string, string> };
  validate(): void;
  toJSON(): any;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** `name` when it is a DNS label; else its first 50 characters and a hash of the whole. */
export function dnsLabelOrHash(name: string): string {
  if (isDnsLabel(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${name.slice(0, 50).replace(/-+$/, '')}-${hash}`;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** An allowed edge of the tree, by DNS label; `external` when its target is a bound Store outside the cluster. */
export interface ManifestEdge {
  readonly from: string;
  readonly to: string;
  readonly external?: boolean;
}

/**
 * Throws naming `component` (the app root) and the object when a check fails. `edges` are the
 * tree's allowed pairs; `hosts` the Services the personas' URLs name.
 */
export function checkManifests(component: string, objects: readonly Manifest[], edges: readonly ManifestEdge[], hosts: readonly string[]): void {
  const fail = (object: Manifest, reason: string) => {
    throw errors.kubernetesInvalid(component, `${object.kind} ${object.metadata?.name}`, reason);
  };
  const names = (kind: string) => new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name));
  const secrets = names('Secret');
  const services = names('Service');
  const seen = new Set<string>();
  for (const object of objects) {
    try {
      object.validate();
    } catch (error) {
      fail(object, `does not match its schema (${(error as Error).message})`);
    }
    const name = object.metadata?.name ?? '';
    if (!isDnsLabel(name)) fail(object, 'has a name that is not a DNS label (lowercase letters, digits and -, at most 63)');
    if (seen.has(`${object.kind}/${name}`)) fail(object, 'is generated twice');
    seen.add(`${object.kind}/${name}`);
    const json = object.toJSON();
    const spec = json.spec ?? {};
    const template = spec.template;
    if (object.kind === 'Deployment' || object.kind === 'StatefulSet') {
      if (!matches(spec.selector?.matchLabels, template?.metadata?.labels)) fail(object, 'has a selector that does not match its pod labels');
    }
    if (object.kind === 'StatefulSet' && !services.has(spec.serviceName)) fail(object, `names the Service ${spec.serviceName}, which is not generated`);
    for (const container of template?.spec?.containers ?? []) {
      for (const from of container.envFrom ?? []) {
        if (from.secretRef && !secrets.has(from.secretRef.name)) fail(object, `refers to the Secret ${from.secretRef.name}, which is not generated`);
      }
    }
    if (object.kind === 'Service') {
      const pods = objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind ?? '')).map((o) => o.toJSON().spec.template.metadata.labels);
      if (!pods.some((labels) => matches(spec.selector, labels))) fail(object, 'selects no pods');
    }
  }
  for (const host of hosts) {
    if (!services.has(host)) throw errors.kubernetesInvalid(component, `the host ${host}`, 'is named in a persona URL but has no Service');
  }
  checkPolicies(component, objects, edges);
}

/**
 * Every edge admitted into its target and let out of its source by some policy, matching
 * selectors against the pods' labels as the cluster does; ingress and egress denied by default.
 * Indexed by component, since an app of a thousand components has a hundred thousand edges.
 */
function checkPolicies(component: string, objects: readonly Manifest[], edges: readonly ManifestEdge[]): void {
  const pods = objects
    .map((o) => o.toJSON().spec?.template?.metadata?.labels as Record<string, string> | undefined)
    .filter((l): l is Record<string, string> => l?.[COMPONENT_LABEL] !== undefined);
  const selected = (selector: any): string[] => pods.filter((labels) => matches(selector?.matchLabels, labels)).map((l) => l[COMPONENT_LABEL]);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.toJSON().spec);
  // An empty selector selects every pod of the namespace; the generated ones, every pod of the app.
  const selectsAll = (selector: any) => Object.keys(selector?.matchLabels ?? {}).length === 0 || pods.every((labels) => matches(selector.matchLabels, labels));
  const denies = (type: string) => policies.some((p) => selectsAll(p.podSelector) && p.policyTypes?.includes(type) && !(p[type.toLowerCase()] ?? []).length);
  for (const type of ['Ingress', 'Egress']) {
    if (!denies(type)) throw errors.kubernetesInvalid(component, 'the NetworkPolicies', `do not deny ${type.toLowerCase()} by default`);
  }
  const admitted = new Set<string>();
  const sent = new Set<string>();
  const sentOut = new Set<string>();
  for (const policy of policies) {
    const own = selected(policy.podSelector);
    for (const rule of policy.ingress ?? []) {
      for (const peer of rule.from ?? []) for (const from of peer.podSelector ? selected(peer.podSelector) : []) for (const to of own) admitted.add(`${from}\n${to}`);
    }
    for (const rule of policy.egress ?? []) {
      for (const peer of rule.to ?? []) {
        if (peer.ipBlock) for (const from of own) sentOut.add(from);
        for (const to of peer.podSelector ? selected(peer.podSelector) : []) for (const from of own) sent.add(`${from}\n${to}`);
      }
    }
  }
  for (const edge of edges) {
    const what = `the edge ${edge.from} -> ${edge.to}`;
    if (edge.external) {
      if (!sentOut.has(edge.from)) throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy letting it out of the cluster');
      continue;
    }
    if (!admitted.has(`${edge.from}\n${edge.to}`)) throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy admitting it');
    if (!sent.has(`${edge.from}\n${edge.to}`)) throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy letting it out');
  }
}
