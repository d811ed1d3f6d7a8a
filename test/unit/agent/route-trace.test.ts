// trace --live's route stage: the rule the installed route tables (what the engine looks
// up per request) pick for the traced request, beside the snapshot's explanation.
import { describe, expect, it } from 'vitest';
import { installedRouteStage } from '../../../agent/src/agent/route-trace.ts';
import { compileRoutes } from '../../../agent/src/compile/routes.ts';
import { emptyRoutes } from '../../../agent/src/tables/routes.ts';
import { cluster, httpRoute, service } from '../compile/route-fixtures.ts';

const snap = cluster(
  [
    `apiVersion: v1
kind: Pod
metadata: {name: client, namespace: web}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.1.1}
`,
    service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
    httpRoute(
      'shop',
      'cart',
      `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - matches: [{ path: { value: /api }, headers: [{ name: x-user, value: alice }] }]
      backendRefs: [{ name: cart, port: 80, weight: 2 }]
`,
    ),
  ].join('---\n'),
);
const http = (path: string, headers: Record<string, string> = {}) => ({
  from: 'web/client',
  to: 'shop/svc/cart',
  port: 80,
  http: { method: 'get', path, host: 'shop/svc/cart', headers },
});

describe('installedRouteStage', () => {
  const tables = compileRoutes(snap);
  it('names the rule the installed tables pick, with its backends', () => {
    expect(
      installedRouteStage(tables, 'n1', snap, http('/api/x?y=1', { 'x-user': 'alice' })),
    ).toEqual({
      stage: 'route, installed on n1',
      result: 'info',
      object: 'HTTPRoute shop/cart',
      rule: 0,
      reason:
        '10.96.0.10:80: HTTPRoute shop/cart rule 0, backends shop/cart:80 weight 2 (1 endpoint(s))',
    });
  });
  it('says 404 when no rule takes it, and what an empty table means', () => {
    expect(installedRouteStage(tables, 'n1', snap, http('/api/x'))?.reason).toBe(
      'no rule of 10.96.0.10:80 takes it: 404',
    );
    expect(installedRouteStage(emptyRoutes, 'n1', snap, http('/api'))?.reason).toBe(
      "no route in the table for 10.96.0.10:80: the Service's own endpoints",
    );
    expect(
      installedRouteStage(tables, 'n1', snap, { ...http('/'), http: undefined }),
    ).toBeUndefined();
  });
});
