// Snapshot → each Service port's traffic policy (tables/traffic-policy.ts) from the
// DestinationRules whose host is that Service: the load balancer, connection-pool limits
// and outlier detection, a portLevelSettings entry's parts replacing the top level's
// (each of loadBalancer, connectionPool, outlierDetection whole, as Istio merges them),
// Istio's outlier defaults for fields left out. One rule per Service: the one in the
// Service's own namespace, then the oldest, then by name; the others are reported as
// conflicting and do nothing. Pure. docs/resilience.md.
import type {
  ClusterObjects,
  DestinationRule,
  OutlierDetection,
  TrafficSettings,
} from '../state/index.ts';
import type {
  CompiledOutlierDetection,
  CompiledTrafficPolicy,
  TrafficPolicies,
} from '../tables/index.ts';

/** Istio's defaults for an outlierDetection that leaves a field out. */
export const OUTLIER_DEFAULTS: CompiledOutlierDetection = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 10,
};

/** A DestinationRule that does nothing because another one for its host wins. */
export interface DestinationRuleConflict {
  /** `namespace/name` of the rule left out, and of the one in force. */
  readonly rule: string;
  readonly winner: string;
  readonly service: string;
  readonly message: string;
}

/** The rules for each Service (`namespace/name`), the one in force first. */
function rulesByService(objects: ClusterObjects): Map<string, DestinationRule[]> {
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

export function compileTrafficPolicies(objects: ClusterObjects): TrafficPolicies {
  const out = new Map<string, CompiledTrafficPolicy>();
  for (const [svcKey, rules] of rulesByService(objects)) {
    const svc = objects.services.get(svcKey);
    if (!svc) continue;
    const rule = rules[0]!;
    for (const sp of svc.ports) {
      if (sp.protocol !== 'TCP') continue;
      const at = rule.ports.find((p) => p.port === sp.port);
      out.set(
        `${svcKey}:${sp.port}`,
        compilePolicy(
          `DestinationRule ${rule.namespace}/${rule.name}${at ? ` port ${sp.port}` : ''}`,
          rule.settings,
          at?.settings,
        ),
      );
    }
  }
  return out;
}

/** The top level's settings with a port's parts over them. */
export function compilePolicy(
  from: string,
  top: TrafficSettings,
  port?: TrafficSettings,
): CompiledTrafficPolicy {
  const lb = port?.lb ?? top.lb;
  const pool = port?.pool ?? top.pool ?? {};
  const od = port?.outlier ?? top.outlier;
  return {
    from,
    lb: lb ?? 'EWMA',
    ...pool,
    ...(od ? { outlier: outlier(od) } : {}),
  };
}

function outlier(od: OutlierDetection): CompiledOutlierDetection {
  const d = OUTLIER_DEFAULTS;
  return {
    consecutive5xxErrors: od.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    intervalMs: od.intervalMs ?? d.intervalMs,
    baseEjectionMs: od.baseEjectionMs ?? d.baseEjectionMs,
    maxEjectionPercent: od.maxEjectionPercent ?? d.maxEjectionPercent,
  };
}

/** Every DestinationRule left out because another one for the same Service is in force. */
export function destinationRuleConflicts(objects: ClusterObjects): DestinationRuleConflict[] {
  const out: DestinationRuleConflict[] = [];
  for (const [service, rules] of rulesByService(objects)) {
    const w = rules[0]!;
    const winner = `${w.namespace}/${w.name}`;
    for (const r of rules.slice(1)) {
      const rule = `${r.namespace}/${r.name}`;
      out.push({
        rule,
        winner,
        service,
        message: `DestinationRule ${rule} is not applied: DestinationRule ${winner} is in force for Service ${service} (one rule per host: the Service's own namespace first, then the oldest)`,
      });
    }
  }
  return out;
}
