// The balancer stage of a trace to a Service port: the policy that picks the endpoint
// (a DestinationRule's, or the default), the connectionPool limits in force and outlier
// detection, as the compiler reads the rule (state/destination-rule-select.ts). Which
// endpoints are ejected now is runtime state: `--live` adds it from each agent. Pure.
import {
  type ClusterObjects,
  type ConnectionPool,
  destinationRulesByService,
  ISTIO_OUTLIER_DEFAULTS,
  type TrafficSettings,
} from '../state/index.ts';

interface Stage {
  readonly stage: string;
  readonly result: 'info';
  readonly object?: string;
  readonly reason: string;
}

const LB_WORDS: Record<string, string> = {
  EWMA: 'EWMA (the default: power of two choices over latency × outstanding)',
  LEAST_REQUEST: 'LEAST_REQUEST (power of two choices over outstanding)',
  ROUND_ROBIN: 'ROUND_ROBIN',
  RANDOM: 'RANDOM',
};

function limits(p: ConnectionPool | undefined): string {
  if (!p) return 'no connectionPool limits';
  const ms = (v: number | undefined, n: string) => (v ? [`${n} ${v} ms`] : []);
  const n = (v: number | undefined, k: string) => (v ? [`${k} ${v}`] : []);
  const l = [
    ...n(p.maxConnections, 'maxConnections'),
    ...n(p.http1MaxPendingRequests, 'http1MaxPendingRequests'),
    ...n(p.http2MaxRequests, 'http2MaxRequests'),
    ...n(p.maxRequestsPerConnection, 'maxRequestsPerConnection'),
    ...n(p.maxRetries, 'maxRetries'),
    ...ms(p.connectTimeoutMs, 'connectTimeout'),
    ...ms(p.idleTimeoutMs, 'idleTimeout'),
  ];
  return l.length ? `limits ${l.join(', ')} (beyond: 503 overflow)` : 'no connectionPool limits';
}

/** `service` is `namespace/name`. */
export function balancerStage(cluster: ClusterObjects, service: string, port: number): Stage {
  const rule = destinationRulesByService(cluster).get(service)?.[0];
  const stage = `balancer ${service}:${port}`;
  if (!rule)
    return {
      stage,
      result: 'info',
      reason: `no DestinationRule: ${LB_WORDS.EWMA}; no connectionPool limits; no outlier detection`,
    };
  const at = rule.ports.find((p) => p.port === port)?.settings;
  const s: TrafficSettings = {
    lb: at?.lb ?? rule.settings.lb,
    pool: at?.pool ?? rule.settings.pool,
    outlier: at?.outlier ?? rule.settings.outlier,
  };
  const od = s.outlier ? { ...ISTIO_OUTLIER_DEFAULTS, ...s.outlier } : undefined;
  const outlier = od
    ? `outlier detection: eject after ${od.consecutive5xxErrors || 'off'} consecutive 5xx / ${od.consecutiveGatewayErrors || 'off'} gateway errors for ${od.baseEjectionMs} ms × times ejected, at most ${od.maxEjectionPercent}% of endpoints`
    : 'no outlier detection';
  return {
    stage,
    result: 'info',
    object: `DestinationRule ${rule.namespace}/${rule.name}${at ? ` port ${port}` : ''}`,
    reason: `${LB_WORDS[s.lb ?? 'EWMA']}; ${limits(s.pool)}; ${outlier}`,
  };
}
