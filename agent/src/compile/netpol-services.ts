// Egress NetworkPolicy for Service VIPs. Kubernetes applies policy to the pods
// behind a ClusterIP, after the Service is resolved; weft's connect() check
// sees the VIP, before the proxy resolves it. So each VIP port is judged by
// its endpoints (each endpoint address on its targetPort), with the evaluator
// the proxy and `weft policy trace` use, and the kernel gets one exact entry
// per VIP: the Service ports with at least one allowed endpoint. A port whose
// endpoints are all denied (or that has none) is left out, so connect() fails
// with EPERM; the proxy balances a mixed port over its allowed endpoints only.
// Pure.
import { decide, type EgressView, egressView, subjectOf } from '../policy/index.ts';
import {
  type ClusterObjects,
  clusterIPsOf,
  type Endpoint,
  isIPBlockPeer,
  type Labels,
  type NetworkPolicy,
  type Pod,
  type Protocol,
  type Snapshot,
  serviceEndpoints,
  slicesByService,
} from '../state/index.ts';

export {
  allowedTarget,
  type EgressView,
  egressView,
  type JudgedEndpoint,
  judgeEndpoints,
} from '../policy/index.ts';

export interface VipPorts {
  /** The ClusterIP. */
  readonly ip: string;
  readonly protocol: 'TCP' | 'UDP';
  /** Its ports of `protocol` with at least one allowed endpoint; empty: connect() to it is denied. */
  readonly ports: readonly number[];
}

/** A snapshot's ClusterIPs, their endpoints numbered so that tables can judge each once. */
interface VipIndex {
  /** Each distinct endpoint (address, port). */
  readonly endpoints: readonly Endpoint[];
  /**
   * Per endpoint, the number of its shape: the pod's namespace, labels and ports and the
   * port. Without ipBlock peers a verdict depends on nothing else, so replicas share one.
   */
  readonly shapes: Int32Array;
  readonly shapeCount: number;
  readonly vips: readonly {
    readonly ip: string;
    readonly protocol: 'TCP' | 'UDP';
    /** Endpoints as numbers into `endpoints`. */
    readonly ports: readonly { readonly port: number; readonly endpoints: readonly number[] }[];
  }[];
}

const vipIndex = new WeakMap<ClusterObjects, VipIndex>();

// The evaluators' view of a snapshot, built once per snapshot for all its tables.
const views = new WeakMap<ClusterObjects, EgressView>();

function viewOf(objects: ClusterObjects): EgressView {
  let v = views.get(objects);
  if (!v) {
    v = egressView(objects);
    views.set(objects, v);
  }
  return v;
}

/**
 * Every ClusterIP with its TCP and UDP ports' endpoints, resolved once per snapshot. UDP
 * counts too: the hooks see a UDP Service's VIP (DNS to the cluster's resolver, say) before
 * kube-proxy translates it, so without an entry an egress-isolated pod could not reach it.
 */
function vips(objects: ClusterObjects): VipIndex {
  const have = vipIndex.get(objects);
  if (have) return have;
  const slices = slicesByService(objects);
  // Without EndpointSlices the selector picks pods: a Service looks at its own namespace only.
  const podsByNs = new Map<string, Map<string, Pod>>();
  for (const [k, p] of objects.pods) {
    const m = podsByNs.get(p.namespace) ?? new Map<string, Pod>();
    podsByNs.set(p.namespace, m);
    m.set(k, p);
  }
  const { podsByIP } = viewOf(objects);
  const endpoints: Endpoint[] = [];
  const numbers = new Map<string, number>();
  const shapeOf: number[] = [];
  const shapeNumbers = new Map<string, number>();
  const number = (e: Endpoint): number => {
    const k = `${e.ip} ${e.port}`;
    let n = numbers.get(k);
    if (n === undefined) {
      n = endpoints.push(e) - 1;
      numbers.set(k, n);
      const pod = podsByIP.get(e.ip);
      const shape = pod
        ? JSON.stringify([pod.namespace, Object.entries(pod.labels).sort(), pod.ports, e.port])
        : k;
      let sn = shapeNumbers.get(shape);
      if (sn === undefined) {
        sn = shapeNumbers.size;
        shapeNumbers.set(shape, sn);
      }
      shapeOf.push(sn);
    }
    return n;
  };
  const out: VipIndex['vips'][number][] = [];
  for (const svc of objects.services.values()) {
    const inNs = { ...objects, pods: podsByNs.get(svc.namespace) ?? new Map<string, Pod>() };
    const own = slices.get(`${svc.namespace}/${svc.name}`) ?? [];
    // A dual-stack Service has a ClusterIP per family, each with endpoints of its family.
    for (const ip of clusterIPsOf(svc))
      for (const protocol of ['TCP', 'UDP'] as const) {
        const ports = svc.ports
          .filter((sp) => sp.protocol === protocol)
          .map((sp) => ({
            port: sp.port,
            endpoints: serviceEndpoints(inNs, svc, sp, own, ip).map(number),
          }));
        if (ports.length > 0) out.push({ ip, protocol, ports });
      }
  }
  const index = {
    endpoints,
    shapes: Int32Array.from(shapeOf),
    shapeCount: shapeNumbers.size,
    vips: out,
  };
  vipIndex.set(objects, index);
  return index;
}

/** Whether a rule's ports could let `port` of `protocol` through (a named port: maybe). */
function portMay(
  ports: NetworkPolicy['egress'][number]['ports'],
  port: number,
  protocol: Protocol,
): boolean {
  if (ports.length === 0) return true;
  return ports.some(
    (x) =>
      x.protocol === protocol &&
      (typeof x.port !== 'number' || (port >= x.port && port <= (x.endPort ?? x.port))),
  );
}

/**
 * What the egress rules of `policies` could do for TCP `port`: allow it at all
 * (if no rule could, it is denied without asking the evaluator), and whether an
 * ipBlock rule could, so that the verdict depends on the address and not on the
 * pod's shape alone.
 */
function portRules(policies: readonly NetworkPolicy[]) {
  const rules = policies.flatMap((p) => p.egress);
  const memo = new Map<number, { may: boolean; byAddress: boolean }>();
  return (port: number, protocol: Protocol) => {
    // Ports 0..65535, UDP's above TCP's.
    const k = protocol === 'UDP' ? port + 65536 : port;
    let r = memo.get(k);
    if (!r) {
      const could = rules.filter((x) => portMay(x.ports, port, protocol));
      r = { may: could.length > 0, byAddress: could.some((x) => x.peers.some(isIPBlockPeer)) };
      memo.set(k, r);
    }
    return r;
  };
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
  const view = { ...viewOf(snap), policies };
  const src = subjectOf({ namespace, labels });
  const rulesFor = portRules(policies);
  const index = vips(snap);
  // Each distinct endpoint, or each pod shape where no ipBlock rule could look at the
  // address, is judged once per protocol. 0 not yet, 1 allowed, 2 denied.
  const verdictsOf = {
    TCP: {
      byEndpoint: new Uint8Array(index.endpoints.length),
      byShape: new Uint8Array(index.shapeCount),
    },
    UDP: {
      byEndpoint: new Uint8Array(index.endpoints.length),
      byShape: new Uint8Array(index.shapeCount),
    },
  };
  const allows = (protocol: 'TCP' | 'UDP') => (n: number) => {
    const e = index.endpoints[n]!;
    const r = rulesFor(e.port, protocol);
    if (!r.may) return false;
    const verdicts = r.byAddress ? verdictsOf[protocol].byEndpoint : verdictsOf[protocol].byShape;
    const slot = r.byAddress ? n : index.shapes[n]!;
    if (verdicts[slot] === 0)
      verdicts[slot] = decide(view, src, e, protocol).verdict === 'allow' ? 1 : 2;
    return verdicts[slot] === 1;
  };
  return index.vips.map((v) => ({
    ip: v.ip,
    protocol: v.protocol,
    ports: v.ports.filter((p) => p.endpoints.some(allows(v.protocol))).map((p) => p.port),
  }));
}
