// HTTPLocalRateLimitPolicy from the cluster (test/support/fake-apiserver.ts): its informer
// feeds the same parser and last-good merge as manifests; a refusal names the object and field.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesSource } from '../../../../agent/src/sources/kubernetes/source.ts';
import { FakeApiServer, kubeConfigFor } from '../../../support/fake-apiserver.ts';

const limit = (rps: unknown) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'HTTPLocalRateLimitPolicy',
  metadata: { namespace: 'shop', name: 'cart-limit' },
  spec: {
    targetRef: { group: '', kind: 'Service', name: 'cart' },
    identity: { requestsPerSecond: rps },
  },
});

describe('KubernetesSource: HTTPLocalRateLimitPolicy', () => {
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

  it('reaches the snapshot; a refused version keeps the last good one', async () => {
    api.apply(limit(10));
    src = new KubernetesSource({
      kubeConfig: kubeConfigFor(api.url, 'agent'),
      node: 'node-a',
      informer: { backoff: { baseMs: 20, maxMs: 200 }, absentRecheckMs: 100 },
    });
    const snap = await src.start();
    expect(snap.rateLimits?.get('shop/cart-limit')).toMatchObject({ identity: 10 });
    api.apply(limit(0));
    const deadline = Date.now() + 5000;
    while (src.errors().length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(src.errors()).toEqual([
      {
        file: 'kubernetes:/apis/weft.dev/v1alpha1/httplocalratelimitpolicies',
        object: 'HTTPLocalRateLimitPolicy shop/cart-limit',
        field: 'spec.identity.requestsPerSecond',
        message: 'expected requests per second, an integer from 1 to 1000000, found the number 0',
      },
    ]);
    expect(src.current()!.rateLimits?.get('shop/cart-limit')).toMatchObject({ identity: 10 });
  });
});
