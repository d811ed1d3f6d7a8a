// policy trace --http names the HTTPLocalRateLimitPolicy that holds the request at the
// destination, and the rate this client gets: its override, else per identity, and total.
import { describe, expect, it } from 'vitest';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { traceRequest } from '../../../agent/src/policy/trace-query.ts';
import { cluster, service } from '../compile/route-fixtures.ts';

const client = (name: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: web, labels: {app: ${name}}}
spec: {nodeName: n1, serviceAccountName: ${name}, containers: [{name: c}]}
status: {podIP: ${ip}}
`;

const snap = cluster(
  [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {weft.dev/mesh: enabled}}\n',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {weft.dev/mesh: enabled}}\n',
    client('slow', '10.0.1.1'),
    client('fast', '10.0.1.2'),
    service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
    `apiVersion: weft.dev/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: cart-limit, namespace: shop}
spec:
  targetRef: {kind: Service, name: cart}
  total: {requestsPerSecond: 100}
  identity: {requestsPerSecond: 10}
  overrides: [{requestsPerSecond: 40, clientRefs: [{kind: ServiceAccount, name: fast, namespace: web}]}]
`,
  ].join('---\n'),
);

const limitOf = (from: string) =>
  tracePolicy({
    cluster: snap,
    trustDomain: 'cluster.local',
    rootNamespace: 'weft-system',
    from,
    to: 'shop/svc/cart',
    port: 80,
    http: traceRequest({ method: 'GET', path: '/' }, {}, 'shop/svc/cart'),
  }).stages.find((s) => s.stage === 'rate limit');

describe('policy trace: rate limits', () => {
  it('gives each client its rate under the policy', () => {
    expect(limitOf('web/slow')).toMatchObject({
      result: 'info',
      object: 'shop/cart-limit',
      reason: expect.stringMatching(
        /^10\/s for spiffe:\/\/cluster\.local\/ns\/web\/sa\/slow; 100\/s for all clients together; beyond it .* 429/,
      ),
    });
    expect(limitOf('web/fast')?.reason).toMatch(
      /^40\/s for spiffe:\/\/cluster\.local\/ns\/web\/sa\/fast \(overrides\[0\]/,
    );
  });
});
