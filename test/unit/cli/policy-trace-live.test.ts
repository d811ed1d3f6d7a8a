// `weft policy trace --live` asks the agent the same question the offline trace answers:
// method, path, Host and every header reach the agent's trace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdminServer } from '../../../agent/src/admin/server.ts';
import { run } from '../../../agent/src/cli/commands/policy.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import type { TraceQuery } from '../../../agent/src/policy/trace-query.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';

const manifests = `apiVersion: v1
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
spec: {nodeName: n1, containers: [{name: c, ports: [{containerPort: 8080}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  rules:
  - to: [{operation: {hosts: ["cart.example"], paths: ["/items"]}}]
    when: [{key: "request.headers[x-user]", values: ["alice"]}]
`;

describe('policy trace --live', () => {
  let dir: string;
  let admin: AdminServer;
  const asked: TraceQuery[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-trace-live-'));
    writeFileSync(join(dir, 'm.yaml'), manifests);
    const { cluster } = loadManifests([join(dir, 'm.yaml')]);
    const trace = (q: TraceQuery) => {
      asked.push(q);
      return tracePolicy({
        cluster,
        trustDomain: 'cluster.local',
        rootNamespace: 'weft-system',
        ...q,
      });
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

  async function json(args: string[]): Promise<unknown> {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    try {
      expect(await run(args)).toBe(0);
    } finally {
      spy.mockRestore();
    }
    return JSON.parse(out);
  }

  it('traces the same request as the offline trace, headers and Host included', async () => {
    const common = ['trace', '--from', 'shop/web', '--to', 'shop/cart', '--port', '8080'];
    const req = [
      '--http',
      'GET',
      '/items',
      '-H',
      'Host: cart.example',
      '-H',
      'X-User: alice',
      '-o',
      'json',
    ];
    const offline = await json([...common, ...req, '-f', join(dir, 'm.yaml')]);
    const live = await json([
      ...common,
      ...req,
      '--live',
      '--admin-socket',
      join(dir, 'admin.sock'),
    ]);
    expect(asked.at(-1)).toEqual({
      from: 'shop/web',
      to: 'shop/cart',
      port: 8080,
      http: {
        method: 'GET',
        path: '/items',
        host: 'cart.example',
        headers: { host: 'cart.example', 'x-user': 'alice' },
      },
    });
    expect(live).toEqual(offline);
    expect((live as { verdict: string }).verdict).toBe('allow');
  });

  it('sends no Host but the target when none is given, as offline', async () => {
    const args = ['trace', '--from', 'shop/web', '--to', 'shop/cart', '--port', '8080'];
    const req = ['--http', 'POST', '/x?a=1&b=%2F', '-H', 'x-odd: a:b, c', '-o', 'json'];
    const offline = await json([...args, ...req, '-f', join(dir, 'm.yaml')]);
    const live = await json([...args, ...req, '--live', '--admin-socket', join(dir, 'admin.sock')]);
    expect(asked.at(-1)?.http).toEqual({
      method: 'POST',
      path: '/x?a=1&b=%2F',
      host: 'shop/cart',
      headers: { 'x-odd': 'a:b, c' },
    });
    expect(live).toEqual(offline);
  });

  it('explains a policy failing closed offline, and says it fails closed', async () => {
    const file = join(dir, 'closed.yaml');
    writeFileSync(
      file,
      manifests.replace(
        'when: [{key: "request.headers[x-user]", values: ["alice"]}]',
        'when: [{key: "request.auth.claims[iss]", values: ["x"]}]',
      ),
    );
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      err += String(s);
      return true;
    });
    let t: { verdict: string; stages: { stage: string; reason: string }[] };
    try {
      const args = ['trace', '--from', 'shop/web', '--to', 'shop/cart', '--port', '8080'];
      t = (await json([...args, '-f', file, '-o', 'json'])) as typeof t;
    } finally {
      spy.mockRestore();
    }
    expect(t.verdict).toBe('deny');
    expect(t.stages.find((s) => s.stage === 'AuthorizationPolicy DENY')?.reason).toMatch(
      /^denied by shop\/cart, which fails closed/,
    );
    expect(err).toContain(
      'spec.rules[0].when[0].key: expected source.ip, source.namespace, source.principal, destination.port or request.headers[<name>], found the string "request.auth.claims[iss]" (an Istio attribute weft does not support) (the policy fails closed: it denies all traffic to the workloads it selects)',
    );
  });
});
