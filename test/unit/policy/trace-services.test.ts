// policy trace to a Service under egress NetworkPolicy: each endpoint judged,
// and the verdict the kernel's table for the source gives the VIP.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileEgress } from '../../../agent/src/compile/netpol.ts';
import { MAX_ENDPOINT_STAGES, tracePolicy } from '../../../agent/src/policy/trace.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';

const pod = (name: string, labels: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {${labels}}}
spec: {nodeName: node-1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: ${ip}}
`;
const service = (name: string, selector: string, ip: string, targetPort: string | number) =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {selector: {${selector}}, clusterIP: ${ip}, ports: [{port: 80, targetPort: ${targetPort}}]}
`;

const manifests = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {weft.dev/mesh: enabled}}\n',
  pod('client', 'app: client', '10.244.1.5'),
  pod('server-a', 'app: server, role: backend', '10.244.1.6'),
  pod('server-b', 'app: server, role: backend', '10.244.1.7'),
  pod('other', 'app: other, role: backend', '10.244.1.8'),
  service('server', 'app: server', '10.96.0.10', 'http'),
  service('other', 'app: other', '10.96.0.11', 8080),
  service('mixed', 'role: backend', '10.96.0.12', 8080),
  service('empty', 'app: nobody', '10.96.0.13', 8080),
  `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: server}}}]
    ports: [{port: 8080}]
`,
].join('---\n');

const dir = mkdtempSync(join(tmpdir(), 'weft-trace-svc-'));
writeFileSync(join(dir, 'cluster.yaml'), manifests);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const m = loadManifests([dir]);
const trace = (name: string) =>
  tracePolicy({
    cluster: m.cluster,
    trustDomain: 'cluster.local',
    rootNamespace: 'weft-system',
    from: 'shop/client',
    to: `shop/svc/${name}`,
    port: 80,
  });

/** What the client's kernel table says for VIP:80. */
function kernel(vip: string): 'allow' | 'deny' {
  const t = compileEgress({ ...m.cluster, version: 1 }, 'shop', { app: 'client' });
  const last = Number(vip.split('.').pop());
  const e = [...t.entries.values()].find(
    (x) => x.bits === 128 && x.addr[15] === last && x.addr[12] === 10 && x.addr[13] === 96,
  );
  return e && (e.ports.all || e.ports.ranges.some(([lo, hi]) => lo <= 80 && 80 <= hi))
    ? 'allow'
    : 'deny';
}

describe('policy trace to a Service under egress NetworkPolicy', () => {
  it('loads the manifests', () => expect(m.errors).toEqual([]));

  it.each([
    ['server', '10.96.0.10', 'allow'],
    ['other', '10.96.0.11', 'deny'],
    ['mixed', '10.96.0.12', 'allow'],
    ['empty', '10.96.0.13', 'deny'],
  ] as const)('%s: the trace and the kernel table agree (%s → %s)', (name, vip, verdict) => {
    expect({ trace: trace(name).verdict, kernel: kernel(vip) }).toEqual({
      trace: verdict,
      kernel: verdict,
    });
  });

  it('explains a mixed Service per endpoint and traces on with an allowed one', () => {
    const t = trace('mixed');
    expect(t.stages.map((s) => [s.stage, s.result]).slice(0, 6)).toEqual([
      ['service', 'info'],
      ['enrollment', 'info'],
      ['egress NetworkPolicy → shop/other', 'info'],
      ['egress NetworkPolicy → shop/server-a', 'allow'],
      ['egress NetworkPolicy → shop/server-b', 'allow'],
      ['egress NetworkPolicy', 'allow'],
    ]);
    expect(t.stages[0]?.reason).toMatch(/tracing shop\/server-a 10\.244\.1\.6:8080/);
    expect(t.stages[2]?.reason).toMatch(/^10\.244\.1\.8:8080: denied: .*the proxy never picks it$/);
    expect(t.stages[3]).toMatchObject({ object: 'shop/client-egress', rule: 0 });
    expect(t.stages[5]?.reason).toMatch(/2 of 3 endpoints .* allowed/);
  });

  it('stops at egress for a Service whose endpoints are all denied: EPERM', () => {
    const t = trace('other');
    expect(t.stages.map((s) => [s.stage, s.result])).toEqual([
      ['service', 'info'],
      ['enrollment', 'info'],
      ['egress NetworkPolicy → shop/other', 'deny'],
      ['egress NetworkPolicy', 'deny'],
    ]);
    expect(t.stages.at(-1)?.reason).toMatch(/fails with EPERM/);
    expect(trace('empty').stages).toEqual([
      expect.objectContaining({ stage: 'service', result: 'deny' }),
    ]);
  });

  it('lists at most MAX_ENDPOINT_STAGES endpoints one by one and counts the rest', () => {
    const pods = new Map(m.cluster.pods);
    const other = m.cluster.pods.get('shop/other')!;
    for (let i = 0; i < MAX_ENDPOINT_STAGES; i++)
      pods.set(`shop/x${i}`, { ...other, name: `x${i}`, podIP: `10.244.9.${i + 1}` });
    const t = tracePolicy({
      cluster: { ...m.cluster, pods },
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from: 'shop/client',
      to: 'shop/svc/mixed',
      port: 80,
    });
    const listed = t.stages.filter((x) => x.stage.startsWith('egress NetworkPolicy → '));
    expect(listed).toHaveLength(MAX_ENDPOINT_STAGES + 1);
    // 103 endpoints sorted by pod: the servers are listed, the last three copies of other are counted.
    expect(listed.at(-1)).toMatchObject({
      stage: 'egress NetworkPolicy → …',
      reason: '3 more endpoint(s), not listed: 0 allowed, 3 denied',
    });
    expect(t.verdict).toBe('allow');
  });

  it('weft policy trace -f DIR prints each endpoint', () => {
    const bin = new URL('../../../bin/weft', import.meta.url).pathname;
    const r = spawnSync(
      bin,
      [
        'policy',
        'trace',
        '--from',
        'shop/client',
        '--to',
        'shop/svc/mixed',
        '--port',
        '80',
        '-f',
        dir,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/egress NetworkPolicy → shop\/other\s+INFO/);
    expect(r.stdout).toMatch(/egress NetworkPolicy → shop\/server-b\s+ALLOW/);
    expect(r.stdout).toMatch(/verdict: ALLOW/);
  });
});
