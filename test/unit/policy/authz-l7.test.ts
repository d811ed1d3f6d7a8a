// L7 is per (workload, port): which ports an HTTP rule sends through the HTTP parser.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { servesHttp } from '../../../agent/src/policy/authz-l7.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { needsHttp } from '../../../agent/src/proxy/authorize.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { ap } from './authz-fixtures.ts';

const web = {
  namespace: 'shop',
  labels: { app: 'web' },
  ports: [
    { name: 'http', containerPort: 8080 },
    { name: 'tcp-banner', containerPort: 9090 },
    { containerPort: 7070 },
  ],
};
const on = (spec: object, port: number) =>
  servesHttp(
    [ap('shop', 'p', { selector: { matchLabels: { app: 'web' } }, ...spec })],
    'weft-system',
    web,
    port,
  );

describe('servesHttp', () => {
  it('reads only the ports an HTTP rule names as HTTP', () => {
    const spec = {
      rules: [
        { to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] },
        { to: [{ operation: { ports: ['7070'] } }] },
      ],
    };
    expect([on(spec, 8080), on(spec, 7070), on(spec, 9090)]).toEqual([true, false, false]);
  });

  it('keeps HTTP fields to the operation that carries them', () => {
    const spec = {
      rules: [
        {
          to: [
            { operation: { ports: ['7070'] } },
            { operation: { ports: ['8080'], paths: ['/a'] } },
          ],
        },
      ],
    };
    expect([on(spec, 8080), on(spec, 7070)]).toEqual([true, false]);
  });

  it('reads every port a portless HTTP rule covers, except those the pod declares TCP', () => {
    const spec = { rules: [{ to: [{ operation: { paths: ['/a'] } }] }] };
    expect([on(spec, 8080), on(spec, 7070), on(spec, 9090)]).toEqual([true, true, false]);
  });

  it('follows notPorts and destination.port conditions', () => {
    const not = { rules: [{ to: [{ operation: { notPorts: ['7070'], methods: ['GET'] } }] }] };
    expect([on(not, 8080), on(not, 7070)]).toEqual([true, false]);
    const when = {
      rules: [
        {
          when: [
            { key: 'destination.port', values: ['7070'] },
            { key: 'request.headers[x-a]', values: ['1'] },
          ],
        },
      ],
    };
    expect([on(when, 8080), on(when, 7070)]).toEqual([false, true]);
  });

  it('reads a port as HTTP for header conditions when an operation lets the port in', () => {
    const spec = {
      rules: [
        {
          to: [{ operation: { ports: ['7070'] } }],
          when: [{ key: 'request.headers[x-a]', values: ['1'] }],
        },
      ],
    };
    expect([on(spec, 7070), on(spec, 8080)]).toEqual([true, false]);
  });

  it('reads nothing as HTTP for policies without HTTP fields or not selecting the workload', () => {
    expect(on({ rules: [{ to: [{ operation: { ports: ['8080'] } }] }] }, 8080)).toBe(false);
    const other = ap('shop', 'q', {
      selector: { matchLabels: { app: 'db' } },
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
    });
    expect(servesHttp([other], 'weft-system', web, 8080)).toBe(false);
  });
});

describe('policy trace on a port not read as HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-l7-trace-'));
  writeFileSync(
    join(dir, 'm.yaml'),
    `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/mesh: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop, labels: {app: cart}}
spec: {nodeName: n1, containers: [{name: c, ports: [{containerPort: 8080}, {containerPort: 9090, name: tcp-raw}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  rules:
  - to: [{operation: {methods: ["GET"], ports: ["8080"]}}]
  - to: [{operation: {methods: ["GET"]}}]
`,
  );
  const { cluster } = loadManifests([join(dir, 'm.yaml')]);
  rmSync(dir, { recursive: true, force: true });
  const trace = (port: number) =>
    tracePolicy({
      cluster,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from: 'shop/web',
      to: 'shop/cart',
      port,
      http: { method: 'GET', path: '/', host: 'x', headers: {} },
    });

  it('answers the proxy per (workload, port), the same when asked again', () => {
    const tables = compilePolicy({ version: 1, ...cluster }, 'cluster.local', 'weft-system');
    const ask = () => [
      needsHttp(tables, 'shop/cart', 8080),
      needsHttp(tables, 'shop/cart', 9090),
      needsHttp(tables, 'shop/cart', 7000),
      needsHttp(tables, 'shop/web', 8080),
    ];
    expect(ask()).toEqual([true, false, true, false]);
    expect(ask()).toEqual([true, false, true, false]);
  });

  it('judges the request as the proxy does: per request on 8080, as TCP on 9090', () => {
    expect(trace(8080).verdict).toBe('allow');
    const t = trace(9090);
    expect(t.verdict).toBe('deny');
    expect(t.stages.find((s) => s.stage === 'L7')?.reason).toBe(
      'port 9090 of shop/cart is not read as HTTP (no HTTP rule can match on it, or the pod names it tcp): the request is judged as TCP, per connection',
    );
  });
});
