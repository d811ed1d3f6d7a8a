// Accepted and ResolvedRefs on Gateway API routes bound to Services, written by the
// issuer through the status subresource of a local list/watch server (not a real API
// server): weft's own status.parents entries, a Gateway controller's left alone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ParentStatusEntry,
  RouteStatusWriter,
} from '../../../agent/src/issuer/kubernetes/route-status.ts';
import { FakeApiServer, kubeConfigFor } from '../../support/fake-apiserver.ts';
import { until } from '../../support/until.ts';

const AV = 'gateway.networking.k8s.io/v1';
const route = (
  name: string,
  backend: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  apiVersion: AV,
  kind: 'HTTPRoute',
  metadata: { namespace: 'web', name },
  spec: {
    parentRefs: [{ group: '', kind: 'Service', namespace: 'shop', name: 'cart', port: 80 }],
    rules: [{ backendRefs: [{ port: 80, ...backend }] }],
    ...extra,
  },
});

function parents(api: FakeApiServer, name: string): ParentStatusEntry[] {
  return api.get('HTTPRoute', AV, 'web', name)?.status?.parents ?? [];
}
const summary = (api: FakeApiServer, name: string) =>
  parents(api, name).map(
    (p) =>
      `${p.controllerName} ${p.parentRef.name}: ${p.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ')}`,
  );

describe('RouteStatusWriter', () => {
  let api: FakeApiServer;
  let writer: RouteStatusWriter | undefined;

  beforeEach(async () => {
    api = await new FakeApiServer().start();
    api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'shop', name: 'cart' },
      spec: {
        clusterIP: '10.96.0.10',
        selector: { app: 'cart' },
        ports: [{ name: 'http', port: 80 }],
      },
    });
  });
  afterEach(async () => {
    writer?.close();
    await api.close();
  });

  it('writes Accepted and ResolvedRefs per Service parent, follows a ReferenceGrant, a refusal and a fix, then stays quiet', async () => {
    api.apply(route('cross', { name: 'cart', namespace: 'shop' }));
    api.apply(route('missing', { name: 'nope' }));
    api.apply(route('bad', { name: 'cart', namespace: 'shop', kind: 'Bucket' }));
    const gw = route('both', { name: 'cart', namespace: 'shop' });
    api.apply({
      ...gw,
      status: {
        parents: [
          {
            parentRef: { name: 'edge' },
            controllerName: 'example.com/gateway',
            conditions: [{ type: 'Accepted', status: 'True' }],
          },
        ],
      },
    });
    writer = new RouteStatusWriter(kubeConfigFor(api.url), { backoff: { baseMs: 20, maxMs: 100 } });
    await writer.start();
    await until(
      'status written',
      () => parents(api, 'cross').length === 1 && parents(api, 'bad').length === 1,
    );
    expect(summary(api, 'cross')).toEqual([
      'weft.dev/mesh cart: Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted',
    ]);
    expect(summary(api, 'missing')).toEqual([
      'weft.dev/mesh cart: Accepted=True/Accepted ResolvedRefs=False/BackendNotFound',
    ]);
    expect(summary(api, 'bad')).toEqual([
      'weft.dev/mesh cart: Accepted=False/UnsupportedValue ResolvedRefs=False/InvalidKind',
    ]);
    expect(parents(api, 'bad')[0]!.conditions[0]!.message).toContain(
      'spec.rules[0].backendRefs[0].kind: expected Service',
    );
    await until('both', () => parents(api, 'both').length === 2);
    expect(summary(api, 'both')).toEqual([
      'example.com/gateway edge: Accepted=True/undefined',
      'weft.dev/mesh cart: Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted',
    ]);
    api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { namespace: 'shop', name: 'web' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'web' }],
        to: [{ group: '', kind: 'Service', name: 'cart' }],
      },
    });
    await until(
      'granted',
      () => summary(api, 'cross')[0]?.endsWith('ResolvedRefs=True/ResolvedRefs') === true,
    );
    api.apply(route('bad', { name: 'cart', namespace: 'shop' }));
    await until('fixed', () => summary(api, 'bad')[0]?.includes('Accepted=True') === true);
    expect(parents(api, 'bad')[0]!.conditions[0]!.observedGeneration).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    await writer.settled();
    const patches = () => api.requests.filter((r) => r.startsWith('PATCH')).length;
    const n = patches();
    await new Promise((r) => setTimeout(r, 200));
    expect(patches()).toBe(n);
  });
});
