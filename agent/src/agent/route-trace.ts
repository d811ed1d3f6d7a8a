// What this agent's installed route tables say for a traced HTTP request to a Service
// (`weft policy trace --live`): the rule the engine's own lookup picks, beside the
// explanation the trace derives from the snapshot.
import { serviceHost } from '../config/index.ts';
import { matchRoute, type PortPoolSnapshot } from '../l7/index.ts';
import type { TraceStage } from '../policy/index.ts';
import { type AuthzRequest, type ClusterObjects, clusterIPsOf } from '../state/index.ts';
import { type RouteTables, vipKey } from '../tables/index.ts';

export function installedRouteStage(
  tables: RouteTables,
  node: string,
  cluster: ClusterObjects,
  q: { from: string; to: string; port: number; http?: AuthzRequest },
): TraceStage | undefined {
  const parts = q.to.split('/');
  if (!q.http || parts.length !== 3 || parts[1] !== 'svc') return undefined;
  const svc = cluster.services.get(`${parts[0]}/${parts[2]}`);
  const client = cluster.pods.get(q.from);
  const vip = svc && clusterIPsOf(svc)[0];
  if (!svc || !client || !vip) return undefined;
  const stage = `route, installed on ${node}`;
  const t = tables.byVip.get(vipKey(vip, q.port));
  if (!t || (t.producer.length === 0 && t.consumers.size === 0))
    return {
      stage,
      result: 'info',
      reason: `no route in the table for ${vipKey(vip, q.port)}: the Service's own endpoints`,
    };
  const target = q.http.path;
  const i = target.indexOf('?');
  const host = (q.http.headers.host ?? serviceHost(svc.name, svc.namespace))
    .toLowerCase()
    .replace(/:\d+$/, '');
  const rule = matchRoute(t, client.namespace, {
    method: q.http.method.toUpperCase(),
    path: i < 0 ? target : target.slice(0, i),
    query: i < 0 ? '' : target.slice(i + 1),
    host,
    headers: q.http.headers,
  });
  if (!rule)
    return { stage, result: 'info', reason: `no rule of ${vipKey(vip, q.port)} takes it: 404` };
  return {
    stage,
    result: 'info',
    object: rule.route,
    rule: rule.rule,
    reason: `${vipKey(vip, q.port)}: ${rule.route} rule ${rule.rule}, backends ${rule.backends.map((b) => `${b.service}:${b.port} weight ${b.weight} (${b.target.endpoints.length} endpoint(s)${b.unresolved ? `, ${b.unresolved}` : ''})`).join(', ') || 'none (500)'}`,
  };
}

/**
 * The balancer's pool as this agent holds it now, for the Service port the trace's
 * balancer stage names: each endpoint in the pool or ejected until when, and the
 * port's overflows. Absent when this node has sent nothing there yet.
 */
export function poolStage(
  pools: readonly PortPoolSnapshot[],
  node: string,
  stages: readonly TraceStage[],
): TraceStage | undefined {
  const b = stages.find((s) => s.stage.startsWith('balancer '));
  if (!b) return undefined;
  const key = b.stage.slice('balancer '.length);
  const p = pools.find((x) => x.service === key);
  if (!p) return undefined;
  const eps = p.endpoints
    .map((e) => `${e.pod} ${e.ejectedUntil ? `ejected until ${e.ejectedUntil}` : 'in pool'}`)
    .join(', ');
  return {
    stage: `balancer pool, on ${node}`,
    result: 'info',
    reason: `${p.lb}; ${p.inFlight} in flight, ${p.overflows} overflows, ${p.ejections} ejections; ${eps || 'no endpoint used yet'}`,
  };
}
