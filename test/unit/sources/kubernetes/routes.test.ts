// Gateway API routes from the cluster (test/support/fake-apiserver.ts): HTTPRoute,
// GRPCRoute, ReferenceGrant and HTTPFault informers feed the same parser and last-good merge as
// manifests; a Service's appProtocol comes along; a cluster without the CRDs has none.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesSource } from '../../../../agent/src/sources/kubernetes/source.ts';
import type { Snapshot } from '../../../../agent/src/state/types.ts';
import { FakeApiServer, kubeConfigFor } from '../../../support/fake-apiserver.ts';
import { until } from '../../../support/until.ts';

const route = (name: string, weight: unknown = 1) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { namespace: 'shop', name },
  spec: {
    parentRefs: [{ group: '', kind: 'Service', name: 'cart', port: 80 }],
    rules: [{ backendRefs: [{ name: 'cart', port: 80, weight }] }],
  },
});

describe('KubernetesSource: Gateway API routes', () => {
  let api: FakeApiServer;
  let src: KubernetesSource | undefined;

  beforeEach(async () => {
    api = await new FakeApiServer().start();
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'shop', name: 'cart' },
      spec: {
        clusterIP: '10.96.0.10',
        selector: { app: 'cart' },
        ports: [{ name: 'web', port: 80, appProtocol: 'http' }],
      },
    });
  });

  afterEach(async () => {
    src?.close();
    src = undefined;
    await api.close();
  });

  function start(): Promise<Snapshot> {
    src = new KubernetesSource({
      kubeConfig: kubeConfigFor(api.url, 'agent'),
      node: 'node-a',
      informer: { backoff: { baseMs: 20, maxMs: 200 }, absentRecheckMs: 100 },
    });
    return src.start();
  }

  it('routes, grants and appProtocol reach the snapshot; a refused route keeps its last good version', async () => {
    api.apply(route('split', 3));
    api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { namespace: 'shop', name: 'greeter' },
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'cart' }] },
    });
    api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { namespace: 'shop', name: 'from-web' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'web' }],
        to: [{ group: '', kind: 'Service' }],
      },
    });
    const snap = await start();
    expect([...snap.routes!.keys()].sort()).toEqual([
      'GRPCRoute shop/greeter',
      'HTTPRoute shop/split',
    ]);
    expect(snap.referenceGrants?.get('shop/from-web')?.from).toEqual([
      { kind: 'HTTPRoute', namespace: 'web' },
    ]);
    expect(snap.services.get('shop/cart')?.ports[0]?.appProtocol).toBe('http');
    expect(snap.httpFaults?.size).toBe(0);
    api.apply({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'HTTPFault',
      metadata: { namespace: 'shop', name: 'slow' },
      spec: { delay: { fixedDelay: '50ms', percentage: 5.5 } },
    });
    await until('the HTTPFault', () => src!.current()!.httpFaults?.has('shop/slow') === true);
    expect(src!.current()!.httpFaults?.get('shop/slow')?.delay).toEqual({ ms: 50, percent: 5.5 });
    const before = snap.routes!.get('HTTPRoute shop/split');
    api.apply(route('split', 'heavy'));
    await until('the refusal', () => src!.errors().length > 0);
    expect(src!.errors()).toEqual([
      {
        file: 'kubernetes:/apis/gateway.networking.k8s.io/v1/httproutes',
        object: 'HTTPRoute shop/split',
        field: 'spec.rules[0].backendRefs[0].weight',
        message: 'expected a whole number from 0 to 1000000, found the string "heavy"',
      },
    ]);
    expect(src!.current()!.routes!.get('HTTPRoute shop/split')).toEqual(before);
  });

  it('a cluster without the Gateway API CRDs has no routes, and picks them up once installed', async () => {
    api.unserve('gateway.networking.k8s.io');
    const snap = await start();
    expect(snap.routes?.size).toBe(0);
    api.serve('gateway.networking.k8s.io');
    api.apply(route('late'));
    await until('the route', () => src!.current()!.routes!.has('HTTPRoute shop/late'));
  });
});
