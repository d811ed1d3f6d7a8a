// A Service's endpoints, read from the snapshot one way for the compilers, the
// proxy's tables and the trace. Pure.
import { podIPsOf, sameFamily } from './addresses.ts';
import type { ClusterObjects, EndpointSlice, Pod, Service, ServicePort } from './types.ts';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  /** namespace/name of the pod behind it. */
  readonly pod: string;
}

export interface ServiceTarget {
  /** namespace/name of the Service. */
  readonly service: string;
  readonly endpoints: readonly Endpoint[];
  /** The Service's trafficDistribution asks clients to prefer endpoints on their own node. */
  readonly preferClose?: boolean;
}

/** Whether the Service's selector picks the pod. */
export function selects(svc: Service, pod: Pod): boolean {
  const sel = Object.entries(svc.selector);
  // A Service without a selector has hand-made endpoints in Kubernetes; none here.
  return (
    sel.length > 0 && pod.namespace === svc.namespace && sel.every(([k, v]) => pod.labels[k] === v)
  );
}

/** The pod's port a Service port sends to (a named targetPort by the pod's port names). */
export function targetPort(sp: ServicePort, pod: Pod): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return pod.ports.find((p) => p.name === sp.targetPort && p.protocol === sp.protocol)
    ?.containerPort;
}

/** The ready endpoints EndpointSlices give a Service port (matched by port name, as kube-proxy does). */
function sliceEndpoints(
  slices: readonly EndpointSlice[],
  sp: ServicePort,
  family: 'IPv4' | 'IPv6',
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const slice of slices) {
    // A ClusterIP's connections go to endpoints of its own family, as kube-proxy programs them.
    if (slice.addressType !== family) continue;
    const port = slice.ports.find((p) => p.name === (sp.name ?? '') && p.protocol === sp.protocol);
    if (!port) continue;
    for (const e of slice.endpoints) {
      if (!e.ready) continue;
      for (const ip of e.addresses) out.push({ ip, port: port.port, pod: e.pod ?? ip });
    }
  }
  return out;
}

/** Each Service's EndpointSlices, by `namespace/service`. */
export function slicesByService(objects: ClusterObjects): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const s of objects.endpointSlices?.values() ?? []) {
    const key = `${s.namespace}/${s.service}`;
    out.set(key, [...(out.get(key) ?? []), s]);
  }
  return out;
}

/**
 * The ready endpoints of one TCP port of one of a Service's ClusterIPs, sorted:
 * from its EndpointSlices when the source has them, else the pods its selector
 * picks; either way of the ClusterIP's family, as kube-proxy programs them. The
 * proxy balances over these; egress policy judges them.
 */
export function serviceEndpoints(
  objects: ClusterObjects,
  svc: Service,
  sp: ServicePort,
  slices = slicesByService(objects).get(`${svc.namespace}/${svc.name}`) ?? [],
  vip = svc.clusterIP ?? '',
): Endpoint[] {
  const endpoints: Endpoint[] = objects.endpointSlices
    ? sliceEndpoints(slices, sp, vip.includes(':') ? 'IPv6' : 'IPv4')
    : [];
  for (const pod of objects.endpointSlices ? [] : objects.pods.values()) {
    if (!selects(svc, pod)) continue;
    const port = targetPort(sp, pod);
    const ip = sameFamily(podIPsOf(pod), vip);
    if (port !== undefined && ip) endpoints.push({ ip, port, pod: `${pod.namespace}/${pod.name}` });
  }
  return endpoints.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : a.port - b.port));
}
