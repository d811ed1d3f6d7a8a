// The proxy's decision tables for the enrolled workloads of one node
// (tables/decisions.ts), from the same policy tables the evaluators read, so
// that both answer alike. Pure. Replicas (same namespace, labels and ports)
// share their tables.
import {
  allowingRule,
  type EgressDecisions,
  type IngressDecisions,
  type NodeDecisions,
  type PolicyTables,
  type ServiceTarget,
} from '../tables/index.ts';
import { compileIngress } from './decide-authz.ts';
import { compileNetpolTable, type PeerIndex } from './decide-netpol.ts';
import type { PodRateLimits } from './rate-limits.ts';

export { emptyDecisions, type NodeDecisions } from '../tables/index.ts';

/**
 * `enrolled`: the keys of the node's enrolled workloads. A workload whose pod is not in
 * the snapshot gets no table (the proxy then has nothing to decide for it).
 */
export function compileDecisions(
  t: PolicyTables,
  services: ReadonlyMap<string, ServiceTarget>,
  enrolled: readonly string[],
  limits: PodRateLimits = () => new Map(),
): NodeDecisions {
  const peers: PeerIndex = new Map();
  const ingress = new Map<string, IngressDecisions>();
  const egress = new Map<string, EgressDecisions>();
  const ingressOf = new Map<string, IngressDecisions>();
  const egressOf = new Map<string, EgressDecisions>();
  for (const key of enrolled) {
    const pod = t.pods.get(key);
    if (!pod) continue;
    const shape = `${pod.namespace}\0${JSON.stringify(Object.entries(pod.labels).sort())}`;
    let out = egressOf.get(shape);
    if (!out) {
      const netpol = compileNetpolTable(t, pod.namespace, pod.labels, 'egress', peers);
      out = { netpol, vips: netpol.isolated ? vipEndpoints(t, netpol, services) : new Map() };
      egressOf.set(shape, out);
    }
    egress.set(key, out);
    const withPorts = `${shape}\0${JSON.stringify(pod.ports)}`;
    let inn = ingressOf.get(withPorts);
    if (!inn) {
      const netpol = compileNetpolTable(t, pod.namespace, pod.labels, 'ingress', peers, pod.ports);
      inn = compileIngress(t.authorizationPolicies, t.rootNamespace, pod, netpol, limits(pod));
      ingressOf.set(withPorts, inn);
    }
    ingress.set(key, inn);
  }
  return { ingress, egress };
}

/**
 * Each TCP VIP port whose endpoints the workload's egress policy does not all allow, with
 * the ones it does (maybe none). At most one entry per ClusterIP port of the cluster.
 */
function vipEndpoints(
  t: PolicyTables,
  netpol: EgressDecisions['netpol'],
  services: ReadonlyMap<string, ServiceTarget>,
): Map<string, ServiceTarget> {
  const out = new Map<string, ServiceTarget>();
  for (const [key, target] of services) {
    const allowed = target.endpoints.filter(
      (e) => allowingRule(netpol, e.ip, e.port, t.podsByIP.get(e.ip)?.ports) !== undefined,
    );
    if (allowed.length !== target.endpoints.length) out.set(key, { ...target, endpoints: allowed });
  }
  return out;
}
