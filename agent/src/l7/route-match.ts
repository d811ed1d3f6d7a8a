// Which rule of a Service port's route table a request takes: the one lookup the
// request path makes. Rules arrive compiled and in precedence order
// (tables/routes.ts), so the first (rule, match) pair that matches wins.
// Allocation-free: the caller hands the parsed request, nothing is built here.
import type {
  CompiledBackend,
  CompiledMatch,
  CompiledRule,
  ServicePortRoutes,
} from '../tables/index.ts';

export interface RouteRequest {
  /** Upper case. */
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  /** The query without `?`, '' when none. */
  readonly query: string;
  /** Host without port, lower case. */
  readonly host: string;
  /** Lower-case names, as node:http and node:http2 give them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The routes a client in `clientNamespace` sees: its own namespace's when it has any, else the producer's. */
export function routesFor(t: ServicePortRoutes, clientNamespace: string): readonly CompiledRule[] {
  return t.consumers.get(clientNamespace) ?? t.producer;
}

/** The first rule whose hostnames and match take the request, or undefined (404 when the port has routes). */
export function matchRoute(
  t: ServicePortRoutes,
  clientNamespace: string,
  req: RouteRequest,
): CompiledRule | undefined {
  const rules = routesFor(t, clientNamespace);
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (hostMatches(r.hostnames, req.host) && matches(r.match, req)) return r;
  }
  return undefined;
}

function hostMatches(hostnames: readonly string[], host: string): boolean {
  if (hostnames.length === 0) return true;
  for (let i = 0; i < hostnames.length; i++) {
    const h = hostnames[i]!;
    if (h === host) return true;
    // `*.example.com` takes any name with at least one more label in front.
    if (h.charCodeAt(0) === 42 && host.length > h.length - 1 && host.endsWith(h.slice(1)))
      return true;
  }
  return false;
}

export function matches(m: CompiledMatch, req: RouteRequest): boolean {
  if (m.method !== undefined && m.method !== req.method) return false;
  if (!pathMatches(m, req.path)) return false;
  for (let i = 0; i < m.headers.length; i++) {
    const h = m.headers[i]!;
    const v = req.headers[h.name];
    const s = Array.isArray(v) ? v.join(',') : v;
    if (s === undefined || !(h.regex ? h.regex.test(s) : s === h.value)) return false;
  }
  if (m.queryParams.length > 0) {
    const q = new URLSearchParams(req.query);
    for (let i = 0; i < m.queryParams.length; i++) {
      const p = m.queryParams[i]!;
      const v = q.get(p.name);
      if (v === null || !(p.regex ? p.regex.test(v) : v === p.value)) return false;
    }
  }
  return true;
}

function pathMatches(m: CompiledMatch, path: string): boolean {
  switch (m.pathType) {
    case 'Exact':
      return path === m.path;
    case 'RegularExpression':
      return m.pathRegex!.test(path);
    default: {
      // PathPrefix matches whole segments: `/foo` takes `/foo` and `/foo/bar`, not `/foobar`.
      const p = m.path;
      if (p === '/') return true;
      if (!path.startsWith(p)) return false;
      return path.length === p.length || path.charCodeAt(p.length) === 47 || p.endsWith('/');
    }
  }
}

/**
 * The backend a request goes to, given `r` uniform in [0, 1): each backend takes its
 * weight's share of totalWeight (weight 0: none). undefined when totalWeight is 0 (the
 * spec's 500). Walks at most 16 backends, allocates nothing.
 */
export function pickBackend(rule: CompiledRule, r: number): CompiledBackend | undefined {
  if (rule.totalWeight <= 0) return undefined;
  let x = r * rule.totalWeight;
  const bs = rule.backends;
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i]!;
    if (x < b.weight) return b;
    x -= b.weight;
  }
  // Floating-point rounding at the very top: the last backend with weight.
  for (let i = bs.length - 1; i >= 0; i--) if (bs[i]!.weight > 0) return bs[i];
  return undefined;
}
