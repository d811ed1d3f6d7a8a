// Which DestinationRule is in force for a Service, read one way by the compiler and the
// trace: the one in the Service's own namespace, then the oldest, then by namespace/name
// (docs/resilience.md). Pure.
import type { DestinationRule, OutlierDetection } from './destination-rule-types.ts';
import type { ClusterObjects } from './types.ts';

/** Istio's defaults for an outlierDetection that leaves a field out. */
export const ISTIO_OUTLIER_DEFAULTS: Required<OutlierDetection> = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 10,
};

/** Each Service's (`namespace/name`) DestinationRules, the one in force first. */
export function destinationRulesByService(objects: ClusterObjects): Map<string, DestinationRule[]> {
  const by = new Map<string, DestinationRule[]>();
  for (const r of objects.destinationRules?.values() ?? []) {
    const l = by.get(r.service);
    if (l) l.push(r);
    else by.set(r.service, [r]);
  }
  for (const [svc, l] of by) {
    const ns = svc.slice(0, svc.indexOf('/'));
    l.sort(
      (a, b) =>
        Number(b.namespace === ns) - Number(a.namespace === ns) ||
        a.created - b.created ||
        (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1),
    );
  }
  return by;
}
