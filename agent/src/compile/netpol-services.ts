// Egress NetworkPolicy for Service VIPs. Kubernetes applies policy to the pods
// behind a ClusterIP, after the Service is resolved; weft's connect() check
// sees the VIP, before the proxy resolves it. So each VIP port is judged by
// its endpoints (each endpoint address on its targetPort), with the evaluator
// the proxy and `weft policy trace` use, and the kernel gets one exact entry
// per VIP: the Service ports with at least one allowed endpoint. A port whose
// endpoints are all denied (or that has none) is left out, so connect() fails
// with EPERM; the proxy balances a mixed port over its allowed endpoints only.
// Pure.
import { evaluateNetworkPolicies, type Endpoint as PeerEndpoint } from '../policy/netpol-eval.ts';
import type { NetworkPolicy } from '../policy/netpol-types.ts';
import type {
  ClusterObjects,
  EndpointSlice,
  Labels,
  Pod,
  Service,
  Snapshot,
} from '../state/types.ts';
import type { PolicyTables } from './policy.ts';
import {
  type Endpoint,
  type ServiceTarget,
  serviceEndpoints,
  slicesByService,
} from './services.ts';

export interface JudgedEndpoint {
  readonly endpoint: Endpoint;
  readonly allow: boolean;
  /** The evaluator's words, naming the policy and rule. */
  readonly reason: string;
  /** `namespace/name` of the allowing policy and its rule index, when one allows. */
  readonly matched?: { readonly policy: string; readonly rule: number };
  /** The policies selecting the source for egress. */
  readonly selectedBy: readonly string[];
}

/** What the policy evaluators need of the cluster, to judge a source's connections. */
export interface EgressView {
  readonly policies: readonly NetworkPolicy[];
  readonly namespaces: ReadonlyMap<string, { readonly labels: Labels }>;
  readonly podsByIP: ReadonlyMap<string, Pod>;
}

/** The peer an endpoint is to the evaluator: the pod at its address, if any (as the proxy names it). */
function peerOf(view: EgressView, ip: string): PeerEndpoint {
  const p = view.podsByIP.get(ip);
  if (!p) return { ip };
  return {
    ip,
    pod: { namespace: p.namespace, name: p.name, labels: p.labels, ports: p.ports },
  };
}

/** Each endpoint's egress verdict for a connection from `subject` to it on its targetPort. */
export function judgeEndpoints(
  view: EgressView,
  subject: { namespace: string; labels: Labels; name?: string; ip?: string },
  endpoints: readonly Endpoint[],
): JudgedEndpoint[] {
  const src: PeerEndpoint = {
    ip: subject.ip ?? '',
    pod: {
      namespace: subject.namespace,
      labels: subject.labels,
      ...(subject.name ? { name: subject.name } : {}),
    },
  };
  return endpoints.map((endpoint) => {
    const d = evaluateNetworkPolicies({
      policies: view.policies,
      namespaces: view.namespaces,
      direction: 'egress',
      subject: src,
      peer: peerOf(view, endpoint.ip),
      port: endpoint.port,
      protocol: 'TCP',
    });
    return {
      endpoint,
      allow: d.verdict === 'allow',
      reason: d.reason,
      ...(d.matched ? { matched: { policy: d.matched.policy, rule: d.matched.rule } } : {}),
      selectedBy: d.selectedBy,
    };
  });
}

const views = new WeakMap<ClusterObjects, EgressView>();

/** The evaluators' view of a snapshot, worked out once per snapshot. */
export function egressView(objects: ClusterObjects): EgressView {
  const have = views.get(objects);
  if (have) return have;
  const podsByIP = new Map<string, Pod>();
  for (const p of objects.pods.values()) if (p.podIP) podsByIP.set(p.podIP, p);
  const view = {
    policies: [...(objects.networkPolicies?.values() ?? [])],
    namespaces: objects.namespaces,
    podsByIP,
  };
  views.set(objects, view);
  return view;
}

export interface VipPorts {
  /** The ClusterIP. */
  readonly ip: string;
  /** Its TCP ports with at least one allowed endpoint; empty: connect() to it is denied. */
  readonly ports: readonly number[];
}

/**
 * For an egress-isolated workload (`policies`: those selecting it for egress),
 * every ClusterIP and the ports of it the workload may connect to.
 */
export function vipEgress(
  snap: Snapshot,
  namespace: string,
  labels: Labels,
  policies: readonly NetworkPolicy[],
): VipPorts[] {
  const view = { ...egressView(snap), policies };
  const out: VipPorts[] = [];
  for (const svc of snap.services.values()) {
    if (!svc.clusterIP) continue;
    const ports: number[] = [];
    for (const sp of svc.ports) {
      if (sp.protocol !== 'TCP') continue;
      const judged = judgeEndpoints(
        view,
        { namespace, labels },
        serviceEndpoints(snap, svc, sp, slicesOf(snap, svc)),
      );
      if (judged.some((j) => j.allow)) ports.push(sp.port);
    }
    out.push({ ip: svc.clusterIP, ports });
  }
  return out;
}

const slicesIndex = new WeakMap<ClusterObjects, Map<string, EndpointSlice[]>>();

/** A Service's EndpointSlices, grouped once per snapshot. */
function slicesOf(objects: ClusterObjects, svc: Service): EndpointSlice[] {
  let m = slicesIndex.get(objects);
  if (!m) {
    m = slicesByService(objects);
    slicesIndex.set(objects, m);
  }
  return m.get(`${svc.namespace}/${svc.name}`) ?? [];
}

/** The proxy's choice for one source: the endpoints of a VIP port its egress policy allows. */
export function allowedTarget(
  t: PolicyTables,
  srcKey: string,
  target: ServiceTarget,
): ServiceTarget {
  const src = t.pods.get(srcKey);
  if (!src || t.networkPolicies.length === 0) return target;
  const view = { policies: t.networkPolicies, namespaces: t.namespaces, podsByIP: t.podsByIP };
  const judged = judgeEndpoints(
    view,
    { namespace: src.namespace, labels: src.labels, name: src.name, ip: src.podIP ?? '' },
    target.endpoints,
  );
  if (judged.every((j) => j.allow)) return target;
  return { ...target, endpoints: judged.filter((j) => j.allow).map((j) => j.endpoint) };
}
