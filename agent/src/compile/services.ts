// Service VIPs and their endpoints, as the outbound proxy resolves them. Pure.
import { clusterIPsOf, podIPsOf, sameFamily } from '../state/addresses.ts';
import type { EndpointSlice, Pod, Service, ServicePort, Snapshot } from '../state/types.ts';

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
}

/** `ip:port` of a ClusterIP port, the key the proxy looks an original destination up by. */
export function vipKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

function selects(svc: Service, pod: Pod): boolean {
  const sel = Object.entries(svc.selector);
  // A Service without a selector has hand-made endpoints in Kubernetes; none here.
  return (
    sel.length > 0 && pod.namespace === svc.namespace && sel.every(([k, v]) => pod.labels[k] === v)
  );
}

function targetPort(sp: ServicePort, pod: Pod): number | undefined {
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

/** Every TCP ClusterIP port in the cluster → its ready endpoints (pods with an IP), sorted. */
export function compileServices(snap: Snapshot): Map<string, ServiceTarget> {
  const out = new Map<string, ServiceTarget>();
  const pods = [...snap.pods.values()].filter((p) => podIPsOf(p).length > 0);
  const slicesOf = new Map<string, EndpointSlice[]>();
  for (const s of snap.endpointSlices?.values() ?? []) {
    const key = `${s.namespace}/${s.service}`;
    slicesOf.set(key, [...(slicesOf.get(key) ?? []), s]);
  }
  for (const svc of snap.services.values()) {
    // A dual-stack Service has a ClusterIP per family; each leads to endpoints of its family.
    for (const vip of clusterIPsOf(svc)) {
      for (const sp of svc.ports) {
        if (sp.protocol !== 'TCP') continue;
        const endpoints: Endpoint[] = snap.endpointSlices
          ? sliceEndpoints(
              slicesOf.get(`${svc.namespace}/${svc.name}`) ?? [],
              sp,
              vip.includes(':') ? 'IPv6' : 'IPv4',
            )
          : [];
        for (const pod of snap.endpointSlices ? [] : pods) {
          if (!selects(svc, pod)) continue;
          const port = targetPort(sp, pod);
          const ip = sameFamily(podIPsOf(pod), vip);
          if (port !== undefined && ip)
            endpoints.push({ ip, port, pod: `${pod.namespace}/${pod.name}` });
        }
        endpoints.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : a.port - b.port));
        out.set(vipKey(vip, sp.port), {
          service: `${svc.namespace}/${svc.name}`,
          endpoints,
        });
      }
    }
  }
  return out;
}
