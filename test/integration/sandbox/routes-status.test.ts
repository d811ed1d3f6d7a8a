// Routes in a sandbox: `weft status` of a node lists the routes in force with their
// conditions per parent Service, and a route refused when its file breaks, by file and
// field, with its last good version still in force; `policy trace --live` (the admin API's
// /trace) explains a request through the route and names the rule the node's installed
// route tables pick.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import type { Trace } from '../../../agent/src/policy/trace.ts';
import { traceQueryString, traceRequest } from '../../../agent/src/policy/trace-query.ts';
import { formatStatus } from '../../../agent/src/telemetry/status.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const service = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

const route = (weight: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cart, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: cart}]
  rules:
    - backendRefs: [{name: cart, port: 80, weight: ${weight}}, {name: gone, port: 80}]
`;

describePrivileged('routes in weft status', () => {
  let c: TestCluster;
  const until = async (pred: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await pred()); i++) await new Promise((r) => setTimeout(r, 100));
  };

  beforeAll(async () => {
    c = await testCluster('rs', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        pod('shop', 'cart', 'node-1', { sa: 'cart', ports: '{containerPort: 8080}' }),
        pod('shop', 'frontend', 'node-1', { sa: 'frontend' }),
        service('cart'),
      ),
      'route.yaml': route('3'),
    });
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('lists the route with its conditions, then its refusal with the last good version in force', async () => {
    const s = await c.status('node-1');
    expect(s.routes).toEqual([
      {
        route: 'HTTPRoute shop/cart',
        parents: [
          {
            parentRef: { namespace: 'shop', name: 'cart' },
            conditions: [
              {
                type: 'Accepted',
                status: 'True',
                reason: 'Accepted',
                message: 'bound to shop/cart port 80',
              },
              {
                type: 'ResolvedRefs',
                status: 'False',
                reason: 'BackendNotFound',
                message:
                  'spec.rules[0].backendRefs[1]: no Service shop/gone (requests to such a backend are answered 500)',
              },
            ],
          },
        ],
      },
    ]);
    const q = traceQueryString({
      from: 'shop/frontend',
      to: 'shop/svc/cart',
      port: 80,
      http: traceRequest({ method: 'GET', path: '/items' }, {}, 'shop/svc/cart'),
    });
    const node1 = c.sandbox.state.nodes.find((n) => n.name === 'node-1')!.adminSocket;
    const t = await adminGet<Trace>(node1, `/trace?${q}`);
    const stage = (name: string) => t.stages.find((x) => x.stage === name);
    expect(stage('route HTTPRoute shop/cart rule 0 match 0')?.reason).toBe('matches PathPrefix /');
    expect(stage('route backend shop/gone:80')?.reason).toBe(
      'weight 1 (25.0% of requests): no Service shop/gone: requests picked for it are answered 500',
    );
    expect(stage('route, installed on node-1')?.reason).toMatch(
      /^10\.\d+\.\d+\.\d+:80: HTTPRoute shop\/cart rule 0, backends shop\/cart:80 weight 3 \(1 endpoint\(s\)\), shop\/gone:80 weight 1 \(0 endpoint\(s\), BackendNotFound\)$/,
    );
    c.write('route.yaml', route('heavy'));
    await until(async () => (await c.status('node-1')).rejected.length > 0);
    const after = await c.status('node-1');
    expect(after.routes?.map((r) => r.route)).toEqual(['HTTPRoute shop/cart']);
    const text = formatStatus(after);
    expect(text).toMatch(
      /HTTPRoute shop\/cart {2}refused {2}\S*\/route\.yaml: spec\.rules\[0\]\.backendRefs\[0\]\.weight: expected a whole number from 0 to 1000000, found the string "heavy" \(its last good version is in force\)/,
    );
  });
});
