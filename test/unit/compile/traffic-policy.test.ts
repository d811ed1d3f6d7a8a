import { describe, expect, it } from 'vitest';
import {
  compileTrafficPolicies,
  destinationRuleConflicts,
  OUTLIER_DEFAULTS,
} from '../../../agent/src/compile/index.ts';
import type { ClusterObjects, DestinationRule, Service } from '../../../agent/src/state/index.ts';

const svc: Service = {
  namespace: 'shop',
  name: 'echo',
  selector: { app: 'echo' },
  ports: [
    { port: 80, targetPort: 8080, protocol: 'TCP' },
    { port: 9090, targetPort: 9090, protocol: 'TCP' },
  ],
  clusterIP: '10.96.0.10',
};

const rule = (over: Partial<DestinationRule>): DestinationRule => ({
  namespace: 'shop',
  name: 'echo',
  host: 'echo',
  service: 'shop/echo',
  created: 1000,
  settings: {},
  ports: [],
  ...over,
});

const objects = (...drs: DestinationRule[]): ClusterObjects => ({
  namespaces: new Map(),
  pods: new Map(),
  services: new Map([['shop/echo', svc]]),
  destinationRules: new Map(drs.map((d) => [`${d.namespace}/${d.name}`, d])),
});

describe('compileTrafficPolicies', () => {
  it('gives every TCP port of the Service the rule, with Istio outlier defaults', () => {
    const t = compileTrafficPolicies(
      objects(rule({ settings: { outlier: { consecutive5xxErrors: 2 } } })),
    );
    expect([...t.keys()]).toEqual(['shop/echo:80', 'shop/echo:9090']);
    expect(t.get('shop/echo:80')).toEqual({
      from: 'DestinationRule shop/echo',
      lb: 'EWMA',
      outlier: { ...OUTLIER_DEFAULTS, consecutive5xxErrors: 2 },
    });
  });

  it('lets a port replace the top level part by part', () => {
    const t = compileTrafficPolicies(
      objects(
        rule({
          settings: {
            lb: 'RANDOM',
            pool: { maxConnections: 5, http1MaxPendingRequests: 1 },
            outlier: { consecutive5xxErrors: 2 },
          },
          ports: [{ port: 9090, settings: { pool: { http2MaxRequests: 7 } } }],
        }),
      ),
    );
    expect(t.get('shop/echo:80')).toMatchObject({ lb: 'RANDOM', maxConnections: 5 });
    const p = t.get('shop/echo:9090')!;
    expect(p.from).toBe('DestinationRule shop/echo port 9090');
    expect(p.lb).toBe('RANDOM');
    expect(p.http2MaxRequests).toBe(7);
    expect(p.maxConnections).toBeUndefined();
    expect(p.outlier?.consecutive5xxErrors).toBe(2);
  });

  it('applies one rule per Service: own namespace, then oldest; reports the others', () => {
    const old = rule({ name: 'old', created: 1, settings: { lb: 'RANDOM' } });
    const young = rule({ name: 'young', created: 2, settings: { lb: 'ROUND_ROBIN' } });
    const foreign = rule({
      namespace: 'web',
      name: 'x',
      created: 0,
      settings: { lb: 'LEAST_REQUEST' },
    });
    const o = objects(young, foreign, old);
    expect(compileTrafficPolicies(o).get('shop/echo:80')?.lb).toBe('RANDOM');
    expect(destinationRuleConflicts(o).map((c) => [c.rule, c.winner])).toEqual([
      ['shop/young', 'shop/old'],
      ['web/x', 'shop/old'],
    ]);
  });

  it('ignores a rule for a Service that does not exist', () => {
    expect(compileTrafficPolicies(objects(rule({ service: 'shop/gone' }))).size).toBe(0);
  });
});
