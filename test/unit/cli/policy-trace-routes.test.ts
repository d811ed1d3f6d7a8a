// `weft policy trace --http` to a Service that routes bind, offline (-f) and --live (from
// an admin API serving the agent's trace: the snapshot's explanation plus the installed
// tables' pick), and a refused route named by file, object and field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdminServer } from '../../../agent/src/admin/server.ts';
import { installedRouteStage } from '../../../agent/src/agent/route-trace.ts';
import { run } from '../../../agent/src/cli/commands/policy.ts';
import { compileRoutes } from '../../../agent/src/compile/routes.ts';
import { type Trace, tracePolicy } from '../../../agent/src/policy/trace.ts';
import type { TraceQuery } from '../../../agent/src/policy/trace-query.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { httpRoute, service } from '../compile/route-fixtures.ts';

const manifests = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {weft.dev/mesh: enabled}}\n',
  `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.1.1}
`,
  service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
  service('shop', 'cart-v2', '10.96.0.11', ['10.0.0.3'], { name: 'http' }),
  httpRoute(
    'shop',
    'cart',
    `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - matches: [{ headers: [{ name: x-version, value: v2 }] }]
      backendRefs: [{ name: cart-v2, port: 80 }]
    - backendRefs: [{ name: cart, port: 80 }]
`,
  ),
].join('---\n');

describe('policy trace --http through routes', () => {
  let dir: string;
  let admin: AdminServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-trace-routes-'));
    writeFileSync(join(dir, 'm.yaml'), manifests);
    const { cluster } = loadManifests([join(dir, 'm.yaml')]);
    const tables = compileRoutes(cluster);
    // What the agent's trace does: the snapshot's trace, then its installed tables' pick.
    const trace = (q: TraceQuery): Trace => {
      const t = tracePolicy({
        cluster,
        trustDomain: 'cluster.local',
        rootNamespace: 'weft-system',
        ...q,
      });
      const s = installedRouteStage(tables, 'n1', cluster, q);
      return s ? { ...t, stages: [...t.stages, s] } : t;
    };
    const none = () => [];
    admin = await AdminServer.start(
      {
        status: () => ({}) as never,
        accessLog: none,
        datapathEvents: none,
        flowsSince: none,
        trace,
      },
      join(dir, 'admin.sock'),
    );
  });
  afterAll(() => {
    admin?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function weft(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      err += String(s);
      return true;
    });
    try {
      return { code: await run(args), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  const common = ['trace', '--from', 'shop/web', '--to', 'shop/svc/cart', '--port', '80'];

  it('offline: the header picks the v2 rule, and the trace follows cart-v2', async () => {
    const r = await weft([...common, '--http', 'GET', '/items', '-H', 'x-version: v2', '-f', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      'route HTTPRoute shop/cart rule 0 match 0  ALLOW  matches PathPrefix /, 1 header(s)',
    );
    expect(r.out).toContain('following shop/cart-v2:80 (100.0% of requests)');
    expect(r.out).toMatch(
      /service\s+INFO\s+port 80 → 1 endpoint\(s\) \(from the selector\); tracing shop\/cart-v2-0 10\.0\.0\.3:8080/,
    );
    expect(r.out).toContain('verdict: ALLOW');
  });

  it('--live: the same explanation, and the rule the installed tables pick', async () => {
    const req = ['--http', 'GET', '/items', '-H', 'x-version: v1', '-o', 'json'];
    const offline = JSON.parse((await weft([...common, ...req, '-f', dir])).out) as Trace;
    const live = JSON.parse(
      (await weft([...common, ...req, '--live', '--admin-socket', join(dir, 'admin.sock')])).out,
    ) as Trace;
    expect(live.stages.slice(0, -1)).toEqual(offline.stages);
    expect(
      offline.stages.find((s) => s.stage === 'route HTTPRoute shop/cart rule 0 match 0')?.reason,
    ).toBe('header x-version is "v1", the match wants "v2"');
    expect(live.stages.at(-1)).toEqual({
      stage: 'route, installed on n1',
      result: 'info',
      object: 'HTTPRoute shop/cart',
      rule: 1,
      reason:
        '10.96.0.10:80: HTTPRoute shop/cart rule 1, backends shop/cart:80 weight 1 (1 endpoint(s))',
    });
  });

  it('refuses to explain manifests with a refused route, naming file, object and field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, httpRoute('shop', 'gw', '  parentRefs: [{ name: edge }]\n'));
    try {
      const r = await weft([...common, '--http', 'GET', '/', '-f', dir]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `weft: ${bad}: HTTPRoute shop/gw: spec.parentRefs[0].kind: expected a Service (group "", kind Service): weft is a mesh and binds routes to Services, found the string "gateway.networking.k8s.io/Gateway" (the default when kind is left out)`,
      );
    } finally {
      rmSync(bad);
    }
  });
});
