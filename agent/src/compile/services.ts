// Service VIPs and their endpoints, as the outbound proxy resolves them. Pure.

import {
  type ClusterObjects,
  clusterIPsOf,
  type ServiceTarget,
  serviceEndpoints,
  slicesByService,
} from '../state/index.ts';
import { vipKey } from '../tables/index.ts';

export {
  type Endpoint,
  type ServiceTarget,
  serviceEndpoints,
  slicesByService,
} from '../state/index.ts';
export { vipKey } from '../tables/index.ts';

/** Every TCP ClusterIP port in the cluster → its ready endpoints (pods with an IP), sorted. */
export function compileServices(snap: ClusterObjects): Map<string, ServiceTarget> {
  const out = new Map<string, ServiceTarget>();
  const slicesOf = slicesByService(snap);
  for (const svc of snap.services.values()) {
    const slices = slicesOf.get(`${svc.namespace}/${svc.name}`) ?? [];
    // A dual-stack Service has a ClusterIP per family; each leads to endpoints of its family.
    for (const vip of clusterIPsOf(svc)) {
      for (const sp of svc.ports) {
        if (sp.protocol !== 'TCP') continue;
        out.set(vipKey(vip, sp.port), {
          service: `${svc.namespace}/${svc.name}`,
          endpoints: serviceEndpoints(snap, svc, sp, slices, vip),
          ...(svc.trafficDistribution ? { preferClose: true } : {}),
        });
      }
    }
  }
  return out;
}
