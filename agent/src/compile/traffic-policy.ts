// Snapshot → each Service port's traffic policy (tables/traffic-policy.ts) from the
// DestinationRules whose host is that Service: the load balancer, connection-pool limits
// and outlier detection, a portLevelSettings entry's parts replacing the top level's
// (each of loadBalancer, connectionPool, outlierDetection whole, as Istio merges them),
// Istio's outlier defaults for fields left out. One rule per Service: the one in the
// Service's own namespace, then the oldest, then by name; the others are reported as
// conflicting and do nothing. Pure. docs/resilience.md.
import {
  type ClusterObjects,
  destinationRulesByService,
  ISTIO_OUTLIER_DEFAULTS,
  type OutlierDetection,
  type TrafficSettings,
} from '../state/index.ts';
import type {
  CompiledOutlierDetection,
  CompiledTrafficPolicy,
  TrafficPolicies,
} from '../tables/index.ts';

/** Istio's defaults for an outlierDetection that leaves a field out. */
export const OUTLIER_DEFAULTS: CompiledOutlierDetection = ISTIO_OUTLIER_DEFAULTS;

/** A DestinationRule that does nothing because another one for its host wins. */
export interface DestinationRuleConflict {
  /** `namespace/name` of the rule left out, and of the one in force. */
  readonly rule: string;
  readonly winner: string;
  readonly service: string;
  readonly message: string;
}

export function compileTrafficPolicies(objects: ClusterObjects): TrafficPolicies {
  const out = new Map<string, CompiledTrafficPolicy>();
  for (const [svcKey, rules] of destinationRulesByService(objects)) {
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
  for (const [service, rules] of destinationRulesByService(objects)) {
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
