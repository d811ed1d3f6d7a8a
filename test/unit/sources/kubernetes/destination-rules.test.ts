// Istio DestinationRules from the cluster (test/support/fake-apiserver.ts): the informer
// feeds the same parser and last-good merge as manifests; a refused one keeps its last
// good version; a cluster without Istio's CRD has none, and picks them up once installed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesSource } from '../../../../agent/src/sources/kubernetes/source.ts';
import type { Snapshot } from '../../../../agent/src/state/types.ts';
import { FakeApiServer, kubeConfigFor } from '../../../support/fake-apiserver.ts';
import { until } from '../../../support/until.ts';

const dr = (name: string, simple: unknown = 'ROUND_ROBIN') => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { namespace: 'shop', name },
  spec: { host: 'cart', trafficPolicy: { loadBalancer: { simple } } },
});

describe('KubernetesSource: DestinationRules', () => {
  let api: FakeApiServer;
  let src: KubernetesSource | undefined;

  beforeEach(async () => {
    api = await new FakeApiServer().start();
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
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

  it('reach the snapshot; a refused one keeps its last good version', async () => {
    api.apply(dr('cart'));
    const snap = await start();
    const before = snap.destinationRules?.get('shop/cart');
    expect(before).toMatchObject({ service: 'shop/cart', settings: { lb: 'ROUND_ROBIN' } });
    api.apply(dr('cart', 'PASSTHROUGH'));
    await until('the refusal', () => src!.errors().length > 0);
    expect(src!.errors()).toEqual([
      {
        file: 'kubernetes:/apis/networking.istio.io/v1/destinationrules',
        object: 'DestinationRule shop/cart',
        field: 'spec.trafficPolicy.loadBalancer.simple',
        message:
          'expected ROUND_ROBIN, LEAST_REQUEST, RANDOM, LEAST_CONN, found the string "PASSTHROUGH"',
      },
    ]);
    expect(src!.current()!.destinationRules!.get('shop/cart')).toEqual(before);
  });

  it('a cluster without the CRD has none, and picks them up once installed', async () => {
    api.unserve('networking.istio.io');
    const snap = await start();
    expect(snap.destinationRules?.size).toBe(0);
    api.serve('networking.istio.io');
    api.apply(dr('late'));
    await until('the rule', () => src!.current()!.destinationRules!.has('shop/late'));
  });
});
