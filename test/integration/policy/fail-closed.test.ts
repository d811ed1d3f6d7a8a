// An AuthorizationPolicy weft cannot enforce fails closed for the workloads it selects:
// added live with a field weft does not support, it denies all traffic to them (their
// neighbours untouched) and `weft status` says which policy and why; a file that is not
// YAML at all leaves the last good state in force.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { formatStatus } from '../../../agent/src/telemetry/status.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'frontend', 'node-1', { sa: 'frontend' }),
  pod('shop', 'cart', 'node-2', { sa: 'cart', ports: '{containerPort: 7000}' }),
  pod('shop', 'stock', 'node-2', { sa: 'stock', ports: '{containerPort: 7000}' }),
);

const guard = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: guard, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: DENY
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
`;

const echo = `
import net from 'node:net';
net.createServer((s) => { s.pipe(s); s.on('error', () => {}); })
  .listen(7000, '0.0.0.0', () => console.log('listening'));
`;

const ping = (host: string) => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: 7000 }, () => s.end('ping'));
let got = '';
s.setTimeout(5000, () => { console.log(JSON.stringify({ got, error: 'TIMEOUT' })); process.exit(0); });
s.on('data', (d) => { got += d; });
s.on('end', () => console.log(JSON.stringify({ got })));
s.on('error', (e) => console.log(JSON.stringify({ got, error: e.code })));
`;

describePrivileged('AuthorizationPolicy weft cannot enforce', () => {
  let c: TestCluster;
  const reach = async (to: string) =>
    lastJson<{ got: string; error?: string }>(
      await runInPod(c.pod('shop/frontend'), ping(c.pod(to).ip), 20_000),
    );
  const until = async (pred: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await pred()); i++) await new Promise((r) => setTimeout(r, 100));
  };

  beforeAll(async () => {
    c = await testCluster('lf', { 'shop.yaml': manifests });
    await c.serve('shop/cart', echo);
    await c.serve('shop/stock', echo);
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('denies what it selects, says so in weft status, and keeps it when the file breaks', async () => {
    expect(await reach('shop/cart')).toEqual({ got: 'ping' });
    const before = (await c.status('node-2')).snapshotVersion;
    c.write('guard.yaml', guard);
    await until(async () => (await c.status('node-2')).snapshotVersion > before);

    expect((await reach('shop/cart')).got).toBe('');
    expect(await reach('shop/stock')).toEqual({ got: 'ping' });
    const text = formatStatus(await c.status('node-2'));
    expect(text).toContain(
      'policies failing closed (all traffic to the workloads they select is denied):\n  ',
    );
    expect(text).toContain(
      '/guard.yaml: AuthorizationPolicy shop/guard: spec.rules[0].from[0].source.requestPrincipals: expected no requestPrincipals (not supported: request principals need JWT authentication), found a list',
    );

    // Not YAML at all: the file's last good state (the stand-in) stays in force.
    c.write('guard.yaml', `${guard}  - [unclosed\n`);
    await until(async () =>
      (await c.status('node-2')).rejected.some((r) => r.message.startsWith('YAML syntax error')),
    );
    const broken = (await c.status('node-2')).rejected;
    expect(broken).toEqual([
      expect.objectContaining({
        file: expect.stringMatching(/\/guard\.yaml$/),
        object: 'document 1',
        field: '',
      }),
    ]);
    expect((await reach('shop/cart')).got).toBe('');
    expect(await reach('shop/stock')).toEqual({ got: 'ping' });
  });
});
