// Certificates renew at half life and the trust root rotates (add the new
// root, switch the issuer, drop the old root) while traffic flows: no request
// fails and no connection is reset, and no pod restarts.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CertificateAuthority, generateRootCA } from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { lastJson, runInPod, spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { benchServer } from '../../../bench/pod-programs.ts';
import { describePrivileged } from '../../support/privileged.ts';
import type { TestCluster } from '../../support/sandbox.ts';
import { testCluster } from '../../support/sandbox.ts';
import { probeHbone } from '../../support/tls-peer.ts';

const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/mesh: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: shop}
spec: {nodeName: node-2, serviceAccountName: server, containers: [{name: s}]}
`;

// One connection kept open, echoing a message every 50 ms, plus a new
// connection every 100 ms; runs for ms and reports every failure.
const trafficClient = (host: string, ms: number) => `
import net from 'node:net';
const t0 = performance.now();
let longOk = 0, newOk = 0; const failures = [];
const long = net.connect({ host: '${host}', port: 9000, noDelay: true });
long.on('error', (e) => failures.push('long: ' + e.code));
long.on('close', () => { if (performance.now() - t0 < ${ms}) failures.push('long: closed early'); });
let pending = false;
long.on('data', () => { pending = false; longOk++; });
const tick = setInterval(() => {
  if (pending) return;
  pending = true; long.write('x');
}, 50);
const fresh = setInterval(() => {
  const s = net.connect({ host: '${host}', port: 9000 }, () => s.write('y'));
  s.setTimeout(3000, () => { failures.push('new: timeout'); s.destroy(); });
  s.once('data', () => { newOk++; s.destroy(); });
  s.on('error', (e) => failures.push('new: ' + e.code));
}, 100);
setTimeout(() => {
  clearInterval(tick); clearInterval(fresh); long.removeAllListeners('close'); long.destroy();
  setTimeout(() => console.log(JSON.stringify({ longOk, newOk, failures })), 500);
}, ${ms});
`;

describePrivileged('renewal and root rotation under traffic', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('o', { 'shop.yaml': manifests }, 2, { svidLifetimeMs: 4000 });
    const srv = spawnInPod(c.pod('shop/server'), benchServer);
    await new Promise<void>((r) => srv.stdout?.on('data', () => r()));
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('renews and rotates the root with every request answered and no reset', async () => {
    const serial = async (node: string) => (await c.status(node)).identities[0]?.serial ?? null;
    await expect.poll(() => serial('node-1'), { timeout: 10_000 }).not.toBeNull();
    const first = await serial('node-1');
    const traffic = runInPod(
      c.pod('shop/client'),
      trafficClient(c.pod('shop/server').ip, 14_000),
      40_000,
    );

    // Renewal at half life: a new serial within the first lifetime.
    await expect.poll(() => serial('node-1'), { timeout: 4000, interval: 200 }).not.toBe(first);

    const dir = c.sandbox.caDir;
    const oldRoot = readFileSync(join(dir, 'roots.pem'), 'utf8');
    const next = await generateRootCA({ trustDomain: 'cluster.local' });
    // 1. Trust both roots; agents pick the bundle up with their next renewal.
    appendFileSync(join(dir, 'roots.pem'), next.certPem);
    await new Promise((r) => setTimeout(r, 3000));
    // 2. Sign with the new root.
    writeFileSync(join(dir, 'ca-key.pem'), next.keyPem);
    writeFileSync(join(dir, 'ca.pem'), next.certPem);
    await c.sandbox.reloadIssuer();
    await new Promise((r) => setTimeout(r, 3500));
    // 3. Drop the old root once every SVID comes from the new one.
    writeFileSync(join(dir, 'roots.pem'), next.certPem);
    const r = lastJson<{ longOk: number; newOk: number; failures: string[] }>(await traffic);
    expect(r.failures).toEqual([]);
    expect(r.longOk).toBeGreaterThan(100);
    expect(r.newOk).toBeGreaterThan(80);
    // The server now presents a certificate of the new root (the probe trusts only that root)
    // and accepts a client of the new root.
    const ca = await CertificateAuthority.load(next);
    const id = 'spiffe://cluster.local/ns/shop/sa/client';
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    const svid = await ca.signSvid(csrPem, id);
    const serverIP = c.pod('shop/server').ip;
    const probe = await probeHbone(
      c.pod('shop/client').netnsPath,
      serverIP,
      { key: keyPem, cert: svid.certPem, ca: [next.certPem] },
      { ':method': 'CONNECT', ':authority': `${serverIP}:9000` },
    );
    expect(probe.outcome).toBe(200);
    expect(oldRoot).not.toContain(next.certPem.trim());
  }, 60_000);
});
