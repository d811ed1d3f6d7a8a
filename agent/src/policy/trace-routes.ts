// The routing stages of a trace: an HTTP request to a Service port that routes bind is
// explained route by route (policy/route-eval.ts), then followed to the backend that
// takes the largest share, with the request as that backend receives it. Pure.
import type { AuthzRequest, ClusterObjects, RouteFilter } from '../state/index.ts';
import { evaluateRoutes } from './route-eval.ts';
import { describeFault, describeResilience } from './trace-resilience.ts';

/** A trace stage (policy/trace.ts's TraceStage; written here too, so neither file imports the other). */
interface TraceStage {
  readonly stage: string;
  readonly result: 'allow' | 'deny' | 'info' | 'skip';
  readonly object?: string;
  readonly rule?: number;
  readonly reason: string;
}

/** A trace lists this many (rule, match) pairs one by one, and counts the rest. */
export const MAX_ROUTE_STAGES = 64;

export type Routed =
  /** No route binds the port: trace the Service as it is. */
  | undefined
  /** Answered before any backend (404, redirect, 500, 503): the trace ends here. */
  | 'answered'
  /** Follow this backend with this request. */
  | { readonly to: string; readonly port: number; readonly http: AuthzRequest };

function describeFilter(f: RouteFilter): string {
  switch (f.type) {
    case 'RequestHeaderModifier':
    case 'ResponseHeaderModifier': {
      const m = f.modifier;
      const parts = [
        ...m.set.map((h) => `set ${h.name}: ${h.value}`),
        ...m.add.map((h) => `add ${h.name}: ${h.value}`),
        ...m.remove.map((h) => `remove ${h}`),
      ];
      return `${f.type} (${parts.join(', ')})`;
    }
    case 'RequestRedirect':
      return `RequestRedirect ${f.statusCode}`;
    case 'URLRewrite':
      return `URLRewrite (${[f.hostname ? `host ${f.hostname}` : '', f.path ? `${f.path.type} ${f.path.value}` : ''].filter(Boolean).join(', ')})`;
    case 'RequestMirror':
      return `RequestMirror to ${f.backend.namespace}/${f.backend.name}:${f.backend.port} (${f.percent}%)`;
    case 'ExtensionRef':
      return `ExtensionRef ${f.group}/${f.kind} ${f.name}`;
  }
}

export function traceRoutes(
  cluster: ClusterObjects,
  clientNamespace: string,
  to: string,
  port: number,
  http: AuthzRequest,
  stages: TraceStage[],
): Routed {
  const [ns, , name] = to.split('/');
  const e = evaluateRoutes({
    cluster,
    service: `${ns}/${name}`,
    port,
    clientNamespace,
    request: {
      method: http.method,
      path: http.path,
      headers: http.headers,
      ...(http.headers.host ? { host: http.headers.host } : {}),
    },
  });
  if ('error' in e || e.outcome === 'no-routes') return undefined;
  stages.push({
    stage: 'route',
    result: 'info',
    object: e.service,
    reason: `port ${port} is read as ${e.protocol === 'tcp' ? 'TCP until HTTP is detected' : e.protocol}; ${e.applies}`,
  });
  for (const c of e.candidates.slice(0, MAX_ROUTE_STAGES))
    stages.push({
      stage: `route ${c.route} rule ${c.rule}${c.ruleName ? ` (${c.ruleName})` : ''} match ${c.match}`,
      result: c.matched ? 'allow' : 'skip',
      object: c.route,
      rule: c.rule,
      reason: c.reason,
    });
  const rest = e.candidates.length - MAX_ROUTE_STAGES;
  if (rest > 0)
    stages.push({ stage: 'route …', result: 'info', reason: `${rest} more match(es) not listed` });
  if (!e.matched) {
    stages.push({
      stage: 'route',
      result: 'deny',
      reason: `no route matches ${http.method} ${http.path}: the client's proxy answers 404`,
    });
    return 'answered';
  }
  const rule = `${e.matched.route} rule ${e.matched.rule}`;
  if (e.filters.length > 0)
    stages.push({
      stage: 'route filters',
      result: 'info',
      object: e.matched.route,
      rule: e.matched.rule,
      reason: e.filters.map(describeFilter).join('; '),
    });
  if (e.redirect) {
    stages.push({
      stage: 'route',
      result: 'info',
      object: e.matched.route,
      rule: e.matched.rule,
      reason: `answered ${e.redirect.status} with Location: ${e.redirect.location}; no backend is reached`,
    });
    return 'answered';
  }
  const [routeNs] = e.matched.route.split(' ')[1]!.split('/');
  for (const f of e.filters) {
    if (f.type !== 'ExtensionRef') continue;
    const fault = describeFault(cluster, routeNs!, f.name);
    stages.push({
      stage: 'route fault',
      result: fault.missing ? 'deny' : 'info',
      object: `HTTPFault ${routeNs}/${f.name}`,
      reason: fault.text,
    });
    if (fault.missing) return 'answered';
  }
  stages.push({
    stage: 'route retries',
    result: 'info',
    object: e.matched.route,
    rule: e.matched.rule,
    reason: describeResilience(e.retry, e.timeouts),
  });
  for (const b of e.backends)
    stages.push({
      stage: `route backend ${b.service}:${b.port}`,
      result: b.unresolved || (b.weight > 0 && b.endpoints.length === 0) ? 'info' : 'allow',
      object: rule,
      reason: `weight ${b.weight} (${b.percent.toFixed(1)}% of requests): ${b.reason}${b.endpoints.length ? `: ${b.endpoints.map((x) => `${x.ip}:${x.port}`).join(', ')}` : ''}${b.filters.length ? `; ${b.filters.map(describeFilter).join('; ')}` : ''}`,
    });
  if (e.outcome === 'no-backends') {
    stages.push({
      stage: 'route',
      result: 'deny',
      object: e.matched.route,
      rule: e.matched.rule,
      reason:
        "the rule has no backend with weight: the client's proxy answers 500, as the spec says",
    });
    return 'answered';
  }
  // The backend with the largest share (the first of equals) is the one followed.
  const chosen = e.backends.reduce((a, b) => (b.weight > a.weight ? b : a));
  if (chosen.unresolved || chosen.endpoints.length === 0) {
    stages.push({
      stage: 'route',
      result: 'deny',
      object: chosen.service,
      reason: `the largest share goes to ${chosen.service}:${chosen.port}, which ${chosen.unresolved ? `is not resolved (${chosen.unresolved}): the client's proxy answers 500` : "has no ready endpoint: the client's proxy answers 503"}`,
    });
    return 'answered';
  }
  const f = e.forwarded!;
  const changed =
    f.path !== http.path ||
    f.host !== (http.headers.host ?? f.host) ||
    JSON.stringify(f.headers) !== JSON.stringify(http.headers);
  stages.push({
    stage: 'route',
    result: 'info',
    object: rule,
    reason: `following ${chosen.service}:${chosen.port} (${chosen.percent.toFixed(1)}% of requests)${changed ? `; it receives ${http.method} ${f.path} host ${f.host}` : ''}`,
  });
  const [bns, bname] = chosen.service.split('/');
  return {
    to: `${bns}/svc/${bname}`,
    port: chosen.port,
    http: { method: http.method, path: f.path, host: f.host, headers: f.headers },
  };
}
