import { describe, expect, it } from 'vitest';
import {
  parseDestinationRule,
  serviceOf,
} from '../../../../agent/src/sources/destination-rules/dr-parse.ts';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/parse.ts';

const dr = (spec: unknown, apiVersion = 'networking.istio.io/v1') => ({
  apiVersion,
  kind: 'DestinationRule',
  metadata: { name: 'echo', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec,
});

const parse = (spec: unknown, apiVersion?: string) =>
  parseDestinationRule('dr.yaml', dr(spec, apiVersion), 0);

describe('parseDestinationRule', () => {
  it('reads every field weft applies, top level and per port', () => {
    const r = parse({
      host: 'echo',
      trafficPolicy: {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        connectionPool: {
          tcp: { maxConnections: 10, connectTimeout: '500ms' },
          http: {
            http1MaxPendingRequests: 5,
            http2MaxRequests: 100,
            maxRequestsPerConnection: 3,
            maxRetries: 2,
            idleTimeout: '1m',
          },
        },
        outlierDetection: {
          consecutive5xxErrors: 3,
          consecutiveGatewayErrors: 2,
          interval: '1s',
          baseEjectionTime: '1.5s',
          maxEjectionPercent: 50,
        },
        portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'LEAST_CONN' } }],
      },
    });
    expect(r.errors).toEqual([]);
    expect(r.rule).toEqual({
      namespace: 'shop',
      name: 'echo',
      host: 'echo',
      service: 'shop/echo',
      created: Date.parse('2026-01-01T00:00:00Z'),
      settings: {
        lb: 'ROUND_ROBIN',
        pool: {
          maxConnections: 10,
          connectTimeoutMs: 500,
          http1MaxPendingRequests: 5,
          http2MaxRequests: 100,
          maxRequestsPerConnection: 3,
          maxRetries: 2,
          idleTimeoutMs: 60_000,
        },
        outlier: {
          consecutive5xxErrors: 3,
          consecutiveGatewayErrors: 2,
          intervalMs: 1000,
          baseEjectionMs: 1500,
          maxEjectionPercent: 50,
        },
      },
      ports: [{ port: 8080, settings: { lb: 'LEAST_REQUEST' } }],
    });
  });

  it('accepts v1beta1 and refuses another version', () => {
    expect(parse({ host: 'echo' }, 'networking.istio.io/v1beta1').errors).toEqual([]);
    expect(parse({ host: 'echo' }, 'networking.istio.io/v1alpha2').errors[0]?.field).toBe(
      'apiVersion',
    );
  });

  it('reads the host forms of a Service', () => {
    expect(serviceOf('echo', 'shop')).toBe('shop/echo');
    expect(serviceOf('echo.web', 'shop')).toBe('web/echo');
    expect(serviceOf('echo.web.svc', 'shop')).toBe('web/echo');
    expect(serviceOf('echo.web.svc.cluster.local', 'shop')).toBe('web/echo');
    expect(serviceOf('*.web.svc.cluster.local', 'shop')).toBeUndefined();
    expect(serviceOf('example.com.org', 'shop')).toBeUndefined();
    expect(parse({ host: 'www.example.com' }).errors[0]?.field).toBe('spec.host');
  });

  it('refuses fields weft does not apply, by name, with file and object', () => {
    const r = parse({
      host: 'echo',
      subsets: [{ name: 'v1', labels: { v: '1' } }],
      exportTo: ['.'],
      trafficPolicy: {
        tls: { mode: 'ISTIO_MUTUAL' },
        loadBalancer: { consistentHash: { httpHeaderName: 'x' } },
        connectionPool: { tcp: { tcpKeepalive: {} }, http: { h2UpgradePolicy: 'UPGRADE' } },
        outlierDetection: { splitExternalLocalOriginErrors: true },
        portLevelSettings: [{ port: { number: 80 }, tls: {} }],
        bogus: 1,
      },
    });
    expect(r.rule).toBeUndefined();
    expect(
      r.errors.every((e) => e.file === 'dr.yaml' && e.object === 'DestinationRule shop/echo'),
    ).toBe(true);
    expect(r.errors.map((e) => e.field)).toEqual([
      'spec.subsets',
      'spec.exportTo',
      'spec.trafficPolicy.tls',
      'spec.trafficPolicy.bogus',
      'spec.trafficPolicy.loadBalancer.consistentHash',
      'spec.trafficPolicy.connectionPool.tcp.tcpKeepalive',
      'spec.trafficPolicy.connectionPool.http.h2UpgradePolicy',
      'spec.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors',
      'spec.trafficPolicy.portLevelSettings[0].tls',
    ]);
    expect(r.errors[0]?.message).toMatch(/weft does not apply it/);
    expect(r.errors[3]?.message).toMatch(/unknown field "bogus"/);
  });

  it('names wrong values', () => {
    const r = parse({
      host: 'echo',
      trafficPolicy: {
        loadBalancer: { simple: 'PASSTHROUGH' },
        connectionPool: { tcp: { maxConnections: -1, connectTimeout: '10' } },
        outlierDetection: { maxEjectionPercent: 101, interval: '0s' },
        portLevelSettings: [
          { port: { number: 0 } },
          { port: { number: 80 } },
          { port: { number: 80 } },
        ],
      },
    });
    expect(r.errors.map((e) => e.field)).toEqual([
      'spec.trafficPolicy.loadBalancer.simple',
      'spec.trafficPolicy.connectionPool.tcp.maxConnections',
      'spec.trafficPolicy.connectionPool.tcp.connectTimeout',
      'spec.trafficPolicy.outlierDetection.interval',
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent',
      'spec.trafficPolicy.portLevelSettings[0].port.number',
      'spec.trafficPolicy.portLevelSettings[2].port.number',
    ]);
  });

  it('comes through the manifest reader, a refused one listed as rejected', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: good, namespace: shop}
spec: {host: echo}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: shop}
spec: {host: echo, subsets: []}
`;
    const r = parseManifestFile('drs.yaml', text);
    expect(r.objects.map((o) => o.kind)).toEqual(['DestinationRule']);
    expect(r.rejected).toEqual(['DestinationRule shop/bad']);
    expect(r.errors[0]).toMatchObject({
      file: 'drs.yaml',
      object: 'DestinationRule shop/bad',
      field: 'spec.subsets',
    });
  });
});

describe('Service spec.trafficDistribution', () => {
  const svc = (td: string) => `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec: {selector: {app: echo}, ports: [{port: 80}], trafficDistribution: ${td}}
`;
  it('reads PreferClose and refuses an unknown value by name', () => {
    const ok = parseManifestFile('s.yaml', svc('PreferClose'));
    expect(ok.objects[0]).toMatchObject({
      kind: 'Service',
      value: { trafficDistribution: 'PreferClose' },
    });
    const bad = parseManifestFile('s.yaml', svc('Nearby'));
    expect(bad.errors[0]).toMatchObject({
      object: 'Service shop/echo',
      field: 'spec.trafficDistribution',
    });
  });
});
