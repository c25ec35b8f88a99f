/**
 * What the Kubernetes schemas cannot check about the generated manifests, checked before
 * anything is written: every object valid against its schema, names DNS labels, each
 * workload's selector matching its pod labels, every Secret and Service referred to present,
 * and every edge of the tree with its NetworkPolicy.
 */
import { createHash } from 'node:crypto';
import { errors, messageOf } from '../../core/errors.ts';

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

function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** `name` when it is a DNS label; else its first 50 characters and a hash of the whole. */
export function dnsLabelOrHash(name: string): string {
  if (isDnsLabel(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${name.slice(0, 50).replace(/-+$/, '')}-${hash}`;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

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
export function checkManifests(
  component: string,
  objects: readonly Manifest[],
  edges: Iterable<ManifestEdge>,
  hosts: readonly string[],
): void {
  const fail = (object: Manifest, reason: string) => {
    throw errors.kubernetesInvalid(component, `${object.kind} ${object.metadata?.name}`, reason);
  };
  const names = (kind: string) => new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name));
  const secrets = names('Secret');
  const services = names('Service');
  // Rendered once: a kubernetes-models object builds its JSON anew on every toJSON().
  const jsons = new Map(objects.map((o) => [o, o.toJSON()]));
  const pods = podLabels([...jsons.values()]);
  const seen = new Set<string>();
  for (const object of objects) {
    try {
      object.validate();
    } catch (error) {
      fail(object, `does not match its schema (${messageOf(error)})`);
    }
    const name = object.metadata?.name ?? '';
    if (!isDnsLabel(name))
      fail(object, 'has a name that is not a DNS label (lowercase letters, digits and -, at most 63)');
    if (seen.has(`${object.kind}/${name}`)) throw errors.kubernetesNameClash(component, `${object.kind} ${name}`);
    seen.add(`${object.kind}/${name}`);
    const json = jsons.get(object);
    const spec = json.spec ?? {};
    const template = spec.template;
    if (object.kind === 'Deployment' || object.kind === 'StatefulSet') {
      if (!matches(spec.selector?.matchLabels, template?.metadata?.labels))
        fail(object, 'has a selector that does not match its pod labels');
    }
    if (object.kind === 'StatefulSet' && !services.has(spec.serviceName))
      fail(object, `names the Service ${spec.serviceName}, which is not generated`);
    for (const container of template?.spec?.containers ?? []) {
      for (const from of container.envFrom ?? []) {
        if (from.secretRef && !secrets.has(from.secretRef.name))
          fail(object, `refers to the Secret ${from.secretRef.name}, which is not generated`);
      }
    }
    if (object.kind === 'Service' && !pods.some((labels) => matches(spec.selector, labels)))
      fail(object, 'selects no pods');
  }
  for (const host of hosts) {
    if (!services.has(host))
      throw errors.kubernetesInvalid(component, `the host ${host}`, 'is named in a persona URL but has no Service');
  }
  checkPolicies(
    component,
    pods,
    [...jsons.values()].filter((j) => j.kind === 'NetworkPolicy').map((j) => j.spec),
    edges,
  );
}

/** The pod labels of the objects that run pods (Deployments, StatefulSets, Jobs), each with its component. */
function podLabels(jsons: readonly any[]): Record<string, string>[] {
  return jsons
    .map((j) => j.spec?.template?.metadata?.labels as Record<string, string> | undefined)
    .filter((l): l is Record<string, string> => l?.[COMPONENT_LABEL] !== undefined);
}

/**
 * Every edge admitted into its target and let out of its source by some policy, matching
 * selectors against the pods' labels as the cluster does; ingress and egress denied by default.
 */
function checkPolicies(
  component: string,
  pods: readonly Record<string, string>[],
  policies: readonly any[],
  edges: Iterable<ManifestEdge>,
): void {
  const labelsOf = new Map(pods.map((l) => [l[COMPONENT_LABEL], l]));
  // A selector naming a component is looked up; only label selectors scan every pod.
  const selected = (selector: any): string[] => {
    const named = selector?.matchLabels?.[COMPONENT_LABEL];
    const candidates = named === undefined ? pods : [labelsOf.get(named)].filter((l) => l !== undefined);
    return candidates.filter((labels) => matches(selector?.matchLabels, labels)).map((l) => l[COMPONENT_LABEL]);
  };
  // An empty selector selects every pod of the namespace; the generated ones, every pod of the app.
  const selectsAll = (selector: any) =>
    Object.keys(selector?.matchLabels ?? {}).length === 0 ||
    pods.every((labels) => matches(selector.matchLabels, labels));
  const denies = (type: string) =>
    policies.some(
      (p) => selectsAll(p.podSelector) && p.policyTypes?.includes(type) && !(p[type.toLowerCase()] ?? []).length,
    );
  for (const type of ['Ingress', 'Egress']) {
    if (!denies(type))
      throw errors.kubernetesInvalid(component, 'the NetworkPolicies', `do not deny ${type.toLowerCase()} by default`);
  }
  // For each pod, what its policies admit (ingress) and send to (egress): a peer that names one
  // component as a pair, any other selector as it is. An edge is then checked against its own
  // few entries, never expanded into every pair a label selector covers (personas times APIs).
  const admitted = new Reach();
  const sent = new Reach();
  const sentOut = new Set<string>();
  for (const policy of policies) {
    const own = selected(policy.podSelector);
    for (const rule of policy.ingress ?? []) {
      for (const peer of rule.from ?? [])
        if (peer.podSelector) for (const to of own) admitted.add(to, peer.podSelector);
    }
    for (const rule of policy.egress ?? []) {
      for (const peer of rule.to ?? []) {
        if (peer.ipBlock) for (const from of own) sentOut.add(from);
        if (peer.podSelector) for (const from of own) sent.add(from, peer.podSelector);
      }
    }
  }
  for (const edge of edges) {
    const what = `the edge ${edge.from} -> ${edge.to}`;
    if (edge.external) {
      if (!sentOut.has(edge.from))
        throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy letting it out of the cluster');
      continue;
    }
    if (!admitted.reaches(edge.to, edge.from, labelsOf))
      throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy admitting it');
    if (!sent.reaches(edge.from, edge.to, labelsOf))
      throw errors.kubernetesInvalid(component, what, 'has no NetworkPolicy letting it out');
  }
}

/** The peers one side of the policies allows each pod: single components as pairs, other selectors as they are. */
class Reach {
  readonly #pairs = new Set<string>();
  readonly #selectors = new Map<string, { matchLabels?: Record<string, string> }[]>();

  add(pod: string, peer: { matchLabels?: Record<string, string> }): void {
    const keys = Object.keys(peer.matchLabels ?? {});
    if (keys.length === 1 && keys[0] === COMPONENT_LABEL) {
      this.#pairs.add(`${pod}\n${peer.matchLabels![COMPONENT_LABEL]}`);
    } else {
      const list = this.#selectors.get(pod);
      if (list) list.push(peer);
      else this.#selectors.set(pod, [peer]);
    }
  }

  /** Whether `pod`'s policies allow the peer `other` (its labels from `labelsOf`). */
  reaches(pod: string, other: string, labelsOf: ReadonlyMap<string, Record<string, string>>): boolean {
    return (
      this.#pairs.has(`${pod}\n${other}`) ||
      (this.#selectors.get(pod) ?? []).some((s) => matches(s.matchLabels, labelsOf.get(other)))
    );
  }
}
