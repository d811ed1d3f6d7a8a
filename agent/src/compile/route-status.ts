// The status conditions each route should carry per parent, from the snapshot: Accepted
// (the parent Service and port exist) and ResolvedRefs (every backendRef and mirror leads
// to a Service port it may reach, every HTTPFault a rule names exists), with the Gateway
// API's reasons. Pure: the issuer writes
// them on Kubernetes and `weft status` shows them.

import {
  type ClusterObjects,
  type ObjectError,
  parentPorts,
  type Route,
  type RouteCondition,
  type RouteParentStatus,
  resolveBackend,
  routeKey,
} from '../state/index.ts';

export type { RouteCondition, RouteParentStatus } from '../state/index.ts';

/** The controller weft writes route status as (status.parents[].controllerName). */
export const ROUTE_CONTROLLER = 'weft.dev/mesh';

/** A route in force: its conditions per parent. */
export function routeStatus(objects: ClusterObjects, route: Route): RouteParentStatus[] {
  const refs: string[] = [];
  const reasons = new Set<string>();
  route.rules.forEach((rule, ri) => {
    const check = (ref: { namespace: string; name: string; port?: number }, where: string) => {
      const r = resolveBackend(objects, route, ref);
      if ('unresolved' in r) {
        reasons.add(r.unresolved);
        refs.push(`${where}: ${r.message}`);
      }
    };
    rule.backendRefs.forEach((b, bi) => {
      check(b, `spec.rules[${ri}].backendRefs[${bi}]`);
    });
    rule.filters.forEach((f, fi) => {
      if (f.type === 'RequestMirror') check(f.backend, `spec.rules[${ri}].filters[${fi}]`);
      // An unresolved filter is never skipped: the rule answers 500 (the spec's ExtensionRef rule).
      if (f.type === 'ExtensionRef' && !objects.httpFaults?.has(`${route.namespace}/${f.name}`)) {
        reasons.add('BackendNotFound');
        refs.push(
          `spec.rules[${ri}].filters[${fi}]: no HTTPFault ${route.namespace}/${f.name}, the rule's requests are answered 500`,
        );
      }
    });
  });
  // One reason stands for all: RefNotPermitted says more than BackendNotFound.
  const resolved: RouteCondition =
    refs.length === 0
      ? {
          type: 'ResolvedRefs',
          status: 'True',
          reason: 'ResolvedRefs',
          message: 'every backend and filter resolved',
        }
      : {
          type: 'ResolvedRefs',
          status: 'False',
          reason: reasons.has('RefNotPermitted') ? 'RefNotPermitted' : 'BackendNotFound',
          message: `${refs.join('; ')} (requests to such a backend are answered 500)`,
        };
  return route.parentRefs.map((parentRef) => {
    const p = parentPorts(objects, parentRef);
    const accepted: RouteCondition =
      'reason' in p
        ? { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: p.message }
        : {
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            message: `bound to ${parentRef.namespace}/${parentRef.name} port${p.ports.length > 1 ? 's' : ''} ${p.ports.map((x) => x.port).join(', ')}`,
          };
    return { parentRef, conditions: [accepted, resolved] };
  });
}

/**
 * The conditions of a route the parser refused (its errors): Accepted False
 * (UnsupportedValue), and ResolvedRefs False (InvalidKind) when a backend is no Service.
 * The agents keep its last good version, if any, in force.
 */
export function refusedConditions(errors: readonly ObjectError[]): RouteCondition[] {
  const text = errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
  const invalidKind = errors.some((e) => /backendRef(s\[\d+\])?\.(kind|group)$/.test(e.field));
  return [
    {
      type: 'Accepted',
      status: 'False',
      reason: 'UnsupportedValue',
      message: `${text}; the last good version, if any, stays in force`,
    },
    invalidKind
      ? { type: 'ResolvedRefs', status: 'False', reason: 'InvalidKind', message: text }
      : {
          type: 'ResolvedRefs',
          status: 'False',
          reason: 'UnsupportedValue',
          message: 'not resolved: the route was refused',
        },
  ];
}

/** Every route in force and its conditions, for `weft status`. */
export function routeStatuses(
  objects: ClusterObjects,
): { route: string; parents: RouteParentStatus[] }[] {
  return [...(objects.routes?.values() ?? [])].map((r) => ({
    route: routeKey(r),
    parents: routeStatus(objects, r),
  }));
}
