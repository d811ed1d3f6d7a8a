// The Kubernetes source against a local server speaking the API's list/watch
// protocol (test/support/fake-apiserver.ts; not a real API server): what
// reaches the state store, and how the source rides out 410 Gone, bookmarks,
// watch timeouts, outages and CRDs that are not installed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CGROUP_ANNOTATION, NETNS_ANNOTATION } from '../../../../agent/src/compile/enrollment.ts';
import { compileServices } from '../../../../agent/src/compile/services.ts';
import {
  KubernetesSource,
  type PodLocator,
} from '../../../../agent/src/sources/kubernetes/source.ts';
import type { ObjectError, Snapshot } from '../../../../agent/src/state/types.ts';
import { FakeApiServer, kubeConfigFor } from '../../../support/fake-apiserver.ts';
import { until } from '../../../support/until.ts';

const ns = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

const pod = (
  namespace: string,
  name: string,
  node: string,
  extra: { metadata?: object; spec?: object; podIP?: string } = {},
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace, name, uid: `uid-${name}`, labels: { app: name }, ...extra.metadata },
  spec: {
    nodeName: node,
    serviceAccountName: name,
    containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080 }] }],
    ...extra.spec,
  },
  status: { phase: 'Running', podIP: extra.podIP ?? '10.0.0.1', qosClass: 'Burstable' },
});

const denyAll = (namespace: string, name = 'deny-all') => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace, name },
  spec: { podSelector: {}, policyTypes: ['Ingress'] },
});

const authz = (group: string, namespace: string, name: string, action = 'ALLOW') => ({
  apiVersion: group,
  kind: 'AuthorizationPolicy',
  metadata: { namespace, name },
  spec: {
    selector: { matchLabels: { app: 'cart' } },
    action,
    rules: [{ from: [{ source: { namespaces: ['shop'] } }] }],
  },
});

class Recorder {
  readonly snapshots: Snapshot[] = [];
  readonly errors: ObjectError[][] = [];
  readonly warnings: string[] = [];
  constructor(src: KubernetesSource) {
    src.on('snapshot', (s) => this.snapshots.push(s));
    src.on('errors', (e) => this.errors.push(e));
    src.on('warning', (w) => this.warnings.push(w));
  }
  last(): Snapshot {
    return this.snapshots.at(-1)!;
  }
  /** Waits until a published snapshot satisfies pred (bounded, event-driven by polling the record). */
  async until(pred: (s: Snapshot) => boolean, what: string, ms = 5000): Promise<Snapshot> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const s = this.snapshots.findLast(pred);
      if (s) return s;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no snapshot where ${what} within ${ms} ms`);
  }
}

describe('KubernetesSource', () => {
  let api: FakeApiServer;
  let src: KubernetesSource | undefined;

  beforeEach(async () => {
    api = await new FakeApiServer().start();
    api.apply(ns('shop', { 'weft.dev/mesh': 'enabled' }));
    api.apply(ns('other'));
    api.apply(pod('shop', 'cart', 'node-a', { podIP: '10.0.0.2' }));
    api.apply(pod('shop', 'frontend', 'node-b', { podIP: '10.0.1.2' }));
    api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'shop', name: 'cart' },
      spec: {
        clusterIP: '10.96.0.10',
        selector: { app: 'cart' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      },
    });
    api.apply({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        namespace: 'shop',
        name: 'cart-abc',
        labels: { 'kubernetes.io/service-name': 'cart' },
      },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        {
          addresses: ['10.0.0.2'],
          conditions: { ready: true },
          targetRef: { kind: 'Pod', namespace: 'shop', name: 'cart' },
        },
        {
          addresses: ['10.0.0.9'],
          conditions: { ready: false },
          targetRef: { kind: 'Pod', namespace: 'shop', name: 'cart-old' },
        },
      ],
    });
    api.apply(denyAll('shop'));
    api.apply(authz('security.weft.dev/v1alpha1', 'shop', 'weft-ap'));
    api.apply(authz('security.istio.io/v1', 'shop', 'istio-ap', 'DENY'));
  });

  afterEach(async () => {
    src?.close();
    src = undefined;
    await api.close();
  });

  function source(locator?: PodLocator): KubernetesSource {
    src = new KubernetesSource({
      kubeConfig: kubeConfigFor(api.url, 'agent'),
      node: 'node-a',
      locator,
      informer: { backoff: { baseMs: 20, maxMs: 200 }, absentRecheckMs: 100 },
    });
    return src;
  }

  it('lists every resource, then serves a snapshot with all of them', async () => {
    const s = source();
    const snap = await s.start();
    expect(s.ready).toBe(true);
    expect(snap.version).toBe(1);
    expect(snap.namespaces.get('shop')?.labels['weft.dev/mesh']).toBe('enabled');
    expect([...snap.pods.keys()].sort()).toEqual(['shop/cart', 'shop/frontend']);
    expect(snap.pods.get('shop/cart')?.serviceAccountName).toBe('cart');
    expect(snap.networkPolicies?.has('shop/deny-all')).toBe(true);
    expect(snap.authorizationPolicies?.get('shop/weft-ap')?.action).toBe('ALLOW');
    expect(snap.authorizationPolicies?.get('shop/istio-ap')?.action).toBe('DENY');
    // Service endpoints come from the EndpointSlice: only the ready one.
    const target = compileServices(snap).get('10.96.0.10:80');
    expect(target?.endpoints).toEqual([{ ip: '10.0.0.2', port: 8080, pod: 'shop/cart' }]);
    // This node's pods are watched with a field selector on spec.nodeName.
    expect(api.requests.some((r) => r.includes('fieldSelector=spec.nodeName%3Dnode-a'))).toBe(true);
    expect(s.errors()).toEqual([]);
  });

  it('enrollment by label, pod add/delete and policy add/change/delete reach the store', async () => {
    const s = source();
    await s.start();
    const rec = new Recorder(s);
    api.apply(ns('other', { 'weft.dev/mesh': 'enabled' }));
    await rec.until(
      (x) => x.namespaces.get('other')?.labels['weft.dev/mesh'] === 'enabled',
      'other enrolled',
    );
    api.apply(pod('other', 'late', 'node-a', { podIP: '10.0.0.7' }));
    await rec.until((x) => x.pods.get('other/late')?.podIP === '10.0.0.7', 'pod added');
    api.remove('Pod', 'v1', 'shop', 'frontend');
    await rec.until((x) => !x.pods.has('shop/frontend'), 'pod deleted');
    api.apply(denyAll('other', 'lockdown'));
    await rec.until((x) => x.networkPolicies?.has('other/lockdown') === true, 'policy added');
    api.apply({
      ...denyAll('other', 'lockdown'),
      spec: { podSelector: {}, policyTypes: ['Egress'] },
    });
    await rec.until(
      (x) => x.networkPolicies?.get('other/lockdown')?.policyTypes.includes('Egress') === true,
      'policy changed',
    );
    api.remove('NetworkPolicy', 'networking.k8s.io/v1', 'other', 'lockdown');
    await rec.until((x) => !x.networkPolicies?.has('other/lockdown'), 'policy deleted');
    api.remove('AuthorizationPolicy', 'security.istio.io/v1', 'shop', 'istio-ap');
    await rec.until((x) => !x.authorizationPolicies?.has('shop/istio-ap'), 'istio policy deleted');
    // Versions only go up, one per published change.
    const versions = rec.snapshots.map((x) => x.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('a rejected object names resource, object and field, and its last good version stays', async () => {
    const s = source();
    await s.start();
    const rec = new Recorder(s);
    api.apply({
      ...authz('security.weft.dev/v1alpha1', 'shop', 'weft-ap'),
      spec: { action: 'SOMETIMES', rules: [{}] },
    });
    const deadline = Date.now() + 5000;
    while (rec.errors.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const err = rec.errors.at(-1)?.find((e) => e.object.includes('weft-ap'));
    expect(err).toMatchObject({
      file: 'kubernetes:/apis/security.weft.dev/v1alpha1/authorizationpolicies',
      object: 'AuthorizationPolicy shop/weft-ap',
      field: 'spec.action',
    });
    // Last good: still the ALLOW the agent had.
    expect(s.current()?.authorizationPolicies?.get('shop/weft-ap')?.action).toBe('ALLOW');
    api.apply(authz('security.weft.dev/v1alpha1', 'shop', 'weft-ap', 'AUDIT'));
    await rec.until(
      (x) => x.authorizationPolicies?.get('shop/weft-ap')?.action === 'AUDIT',
      'fixed',
    );
    expect(rec.errors.at(-1)).toEqual([]);
  });

  it('relists after 410 Gone and loses no change made meanwhile', async () => {
    const s = source();
    await s.start();
    // Gone under open watches, as when the server's history is compacted.
    await until('namespaces watched', () => api.watchCount('namespaces') > 0);
    const rec = new Recorder(s);
    const lists = () =>
      api.requests.filter(
        (r) => r.startsWith('GET /api/v1/namespaces') && !r.includes('watch=true'),
      ).length;
    const before = lists();
    api.compact();
    api.apply(ns('fresh', { 'weft.dev/mesh': 'enabled' }));
    api.compact();
    await rec.until((x) => x.namespaces.has('fresh'), 'namespace after 410');
    expect(lists()).toBeGreaterThan(before);
  });

  it('asks for bookmarks and resumes from the bookmarked resourceVersion', async () => {
    const s = source();
    await s.start();
    await until('namespaces watched', () => api.watchCount('namespaces') > 0);
    expect(
      api.requests.some((r) => r.includes('watch=true') && r.includes('allowWatchBookmarks=true')),
    ).toBe(true);
    // Other resources move the resourceVersion on; namespaces see only the bookmark.
    for (let i = 0; i < 3; i++) api.apply(pod('shop', `p${i}`, 'node-b'));
    const rv = Number(api.get('Pod', 'v1', 'shop', 'p2')!.metadata.resourceVersion);
    api.bookmark();
    await new Promise((r) => setTimeout(r, 50));
    api.endWatches('namespaces');
    const deadline = Date.now() + 5000;
    const resumed = () =>
      api.requests.find(
        (r) =>
          r.startsWith('GET /api/v1/namespaces?') &&
          r.includes('watch=true') &&
          r.includes(`resourceVersion=${rv}`),
      );
    while (!resumed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(resumed()).toBeDefined();
  });

  it('rides out an API server outage with backoff and catches up after it', async () => {
    const s = source();
    await s.start();
    const rec = new Recorder(s);
    api.outage();
    api.apply(pod('shop', 'during-outage', 'node-a'));
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.warnings.length).toBeGreaterThan(0);
    expect(s.ready).toBe(true); // the cache keeps serving
    api.up();
    await rec.until((x) => x.pods.has('shop/during-outage'), 'pod from the outage', 10_000);
  });

  it('a 404 from a group it has listed is trouble, not absence: policies in force stay', async () => {
    const s = source();
    await s.start();
    const rec = new Recorder(s);
    await until('both groups watched', () => api.watchCount('authorizationpolicies') === 2);
    api.unserve('security.istio.io');
    api.compact(); // every watch relists, and the istio list now answers 404
    api.apply(ns('after', { 'weft.dev/mesh': 'enabled' }));
    await rec.until((x) => x.namespaces.has('after'), 'other resources carry on');
    // The relist met the 404 (reported as trouble), and a snapshot built after it still has the policy.
    await until('the 404 reported', () =>
      rec.warnings.some((w) => w.includes('security.istio.io') && w.includes('404')),
    );
    api.apply(ns('later', { 'weft.dev/mesh': 'enabled' }));
    const after = await rec.until((x) => x.namespaces.has('later'), 'a snapshot after the 404');
    expect(after.authorizationPolicies?.has('shop/istio-ap')).toBe(true);
    api.serve('security.istio.io');
    api.apply(authz('security.istio.io/v1', 'shop', 'istio-ap', 'ALLOW'));
    await rec.until(
      (x) => x.authorizationPolicies?.get('shop/istio-ap')?.action === 'ALLOW',
      'served again',
    );
  });

  it('stop() leaves no watch open, even one raced by the list', async () => {
    const s = source();
    const started = s.start();
    // Closed while the first lists are in flight.
    await new Promise((r) => setTimeout(r, 5));
    s.close();
    void started;
    await new Promise((r) => setTimeout(r, 500));
    expect(api.watchCount()).toBe(0);
    src = undefined;
  });

  it("gives a hostNetwork pod no address of its own: its IP is the node's", async () => {
    api.apply(
      pod('shop', 'node-agent', 'node-b', { spec: { hostNetwork: true }, podIP: '192.168.0.2' }),
    );
    const snap = await source().start();
    expect(snap.pods.get('shop/node-agent')?.podIP).toBeUndefined();
    expect(snap.pods.get('shop/node-agent')?.labels.app).toBe('node-agent');
  });

  it('a dual-stack Service gets the endpoints of its ClusterIP family only', async () => {
    api.apply({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        namespace: 'shop',
        name: 'cart-v6',
        labels: { 'kubernetes.io/service-name': 'cart' },
      },
      addressType: 'IPv6',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['fd00::2'], conditions: { ready: true } }],
    });
    const snap = await source().start();
    expect(
      compileServices(snap)
        .get('10.96.0.10:80')
        ?.endpoints.map((e) => e.ip),
    ).toEqual(['10.0.0.2']);
  });

  it('a CRD that is not installed counts as empty, and is picked up once it is', async () => {
    api.unserve('security.istio.io');
    const s = source();
    const snap = await s.start();
    expect(snap.authorizationPolicies?.has('shop/istio-ap')).toBe(false);
    expect(snap.authorizationPolicies?.has('shop/weft-ap')).toBe(true);
    const rec = new Recorder(s);
    api.serve('security.istio.io');
    await rec.until(
      (x) => x.authorizationPolicies?.has('shop/istio-ap') === true,
      'istio CRD served',
    );
  });

  it("puts discovered locations on this node's pods only, and drops forged ones", async () => {
    api.apply(
      pod('shop', 'forger', 'node-b', {
        metadata: {
          annotations: { [NETNS_ANNOTATION]: '/proc/1/ns/net', [CGROUP_ANNOTATION]: '/' },
        },
      }),
    );
    api.apply(pod('shop', 'host', 'node-a', { spec: { hostNetwork: true } }));
    let onChange = () => {};
    let where: Record<string, { netnsPath: string; cgroupDir: string }> = {};
    const tracked: string[][] = [];
    const locator: PodLocator = {
      locate: (uid) => where[uid],
      track: (pods, cb) => {
        tracked.push(pods.map((p) => `${p.uid}:${p.qosClass}`));
        onChange = cb;
      },
    };
    const s = source(locator);
    const snap = await s.start();
    expect(tracked.at(-1)).toEqual(['uid-cart:Burstable']);
    expect(snap.pods.get('shop/cart')?.annotations[NETNS_ANNOTATION]).toBeUndefined();
    expect(snap.pods.get('shop/forger')?.annotations[NETNS_ANNOTATION]).toBeUndefined();
    const rec = new Recorder(s);
    where = {
      'uid-cart': {
        netnsPath: '/host/proc/42/ns/net',
        cgroupDir: '/sys/fs/cgroup/kubepods.slice/x',
      },
    };
    onChange();
    const after = await rec.until(
      (x) => x.pods.get('shop/cart')?.annotations[NETNS_ANNOTATION] !== undefined,
      'located',
    );
    expect(after.pods.get('shop/cart')?.annotations[CGROUP_ANNOTATION]).toBe(
      '/sys/fs/cgroup/kubepods.slice/x',
    );
    expect(after.pods.get('shop/host')?.annotations[NETNS_ANNOTATION]).toBeUndefined();
  });
});
