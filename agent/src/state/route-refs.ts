// What a route's references lead to in a snapshot: its parent Services (and their
// ports) and its backends, with the spec's reasons when they lead nowhere. One reading
// for the route tables (compile/routes.ts), the status conditions (compile/route-status.ts)
// and the explaining evaluator (policy/route-eval.ts).
// Pure.
import type { Route, RouteKind, ServiceParentRef } from './route-types.ts';
import type { ClusterObjects, Service, ServicePort } from './types.ts';

/** Why a backend is not served: requests picked for it are answered 500, as the spec says. */
export type UnresolvedReason = 'BackendNotFound' | 'RefNotPermitted';

export type BackendResolution =
  | { readonly service: Service; readonly port: ServicePort }
  | { readonly unresolved: UnresolvedReason; readonly message: string };

/** A route's key in ClusterObjects.routes and in verdicts: `Kind namespace/name`. */
export function routeKey(r: Route): string {
  return `${r.kind} ${r.namespace}/${r.name}`;
}

/** The TCP ports of the parent Service the parentRef binds, or why none. */
export function parentPorts(
  objects: ClusterObjects,
  ref: ServiceParentRef,
): { service: Service; ports: ServicePort[] } | { reason: 'NoMatchingParent'; message: string } {
  const svc = objects.services.get(`${ref.namespace}/${ref.name}`);
  if (!svc)
    return { reason: 'NoMatchingParent', message: `no Service ${ref.namespace}/${ref.name}` };
  const ports = svc.ports.filter(
    (p) => p.protocol === 'TCP' && (ref.port === undefined || p.port === ref.port),
  );
  if (ports.length === 0)
    return {
      reason: 'NoMatchingParent',
      message:
        ref.port === undefined
          ? `Service ${ref.namespace}/${ref.name} has no TCP port`
          : `Service ${ref.namespace}/${ref.name} has no TCP port ${ref.port}`,
    };
  return { service: svc, ports };
}

/** Whether a ReferenceGrant in `toNs` lets routes of `kind` in `fromNs` reach Service `name`. */
export function granted(
  objects: ClusterObjects,
  kind: RouteKind,
  fromNs: string,
  toNs: string,
  name: string,
): boolean {
  for (const g of objects.referenceGrants?.values() ?? []) {
    if (g.namespace !== toNs) continue;
    if (!g.from.some((f) => f.kind === kind && f.namespace === fromNs)) continue;
    if (g.to.some((t) => t.name === undefined || t.name === name)) return true;
  }
  return false;
}

/** A backendRef (or mirror) of a route: its Service port, or why it has none. */
export function resolveBackend(
  objects: ClusterObjects,
  route: Route,
  ref: { readonly namespace: string; readonly name: string; readonly port?: number },
): BackendResolution {
  const key = `${ref.namespace}/${ref.name}`;
  if (
    ref.namespace !== route.namespace &&
    !granted(objects, route.kind, route.namespace, ref.namespace, ref.name)
  )
    return {
      unresolved: 'RefNotPermitted',
      message: `no ReferenceGrant in ${ref.namespace} lets ${route.kind}s of ${route.namespace} reach Service ${key}`,
    };
  const service = objects.services.get(key);
  if (!service) return { unresolved: 'BackendNotFound', message: `no Service ${key}` };
  const port = service.ports.find((p) => p.port === ref.port && p.protocol === 'TCP');
  if (!port)
    return { unresolved: 'BackendNotFound', message: `Service ${key} has no TCP port ${ref.port}` };
  return { service, port };
}
