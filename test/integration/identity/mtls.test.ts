// Identity and mTLS in a 2-node sandbox: cross-node mesh traffic is TLS 1.3
// on the node link and never plaintext; the server side knows the client's
// SPIFFE ID; bad certificates, requests and plaintext on 15008 are refused;
// the issuer gives a node only its own pods' identities; strict mode refuses
// plaintext from outside the mesh, permissive admits it; a client's end before
// any byte reaches the app on every path (HBONE, same node, plaintext).
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { CertificateAuthority, generateRootCA } from '../../../agent/src/identity/ca/ca.ts';
import { x509 } from '../../../agent/src/identity/ca/x509.ts';
import { CaClient, type IssuerError } from '../../../agent/src/identity/caclient.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { probeHbone } from '../../support/tls-peer.ts';

const ns = (mtls: 'strict' | 'permissive') => `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {weft.dev/mesh: enabled${mtls === 'strict' ? ', weft.dev/mtls: strict' : ''}}
---
apiVersion: v1
kind: Namespace
metadata: {name: outside}
`;
const pods = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: shop, labels: {app: server}}
spec: {nodeName: node-2, serviceAccountName: server, containers: [{name: s, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: near, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: near, containers: [{name: n, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: outside}
spec: {nodeName: node-1, containers: [{name: p}]}
`;

const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/shop/sa/server';

describePrivileged('mTLS between nodes', () => {
  let c: TestCluster;
  let serverIP: string;
  let roots: string[];
  let ca: CertificateAuthority;
  const transfer = async (from: string, payload: number, host = serverIP) =>
    lastJson<TransferResult>(
      await runInPod(c.pod(from), transferClient(host, 8080, payload), 30_000),
    );
  const admin = (node: string, path: string) =>
    adminGet<unknown>(c.sandbox.state.nodes.find((n) => n.name === node)!.adminSocket, path);

  beforeAll(async () => {
    c = await testCluster('m', { 'ns.yaml': ns('permissive'), 'pods.yaml': pods });
    serverIP = c.pod('shop/server').ip;
    for (const p of ['shop/server', 'shop/near', 'outside/plain'])
      await c.serve(p, sinkServer(8080));
    const dir = c.sandbox.caDir;
    roots = [readFileSync(join(dir, 'roots.pem'), 'utf8')];
    ca = await CertificateAuthority.load({
      certPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'ca-key.pem'), 'utf8'),
    });
    // Both ends hold certificates before traffic starts.
    for (let i = 0; i < 200; i++) {
      const ids = [
        ...(await c.status('node-1')).identities,
        ...(await c.status('node-2')).identities,
      ];
      if (ids.filter((x) => x.serial !== null).length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('carries cross-node mesh traffic as TLS 1.3 on the node link, never as plaintext', async () => {
    const cap = `/tmp/weft-m${process.pid}.pcap`;
    const dump = spawn(
      'nsenter',
      [
        `--net=/var/run/netns/weft-${c.sandbox.state.name}-net`,
        'tcpdump',
        '-i',
        'n1',
        '-U',
        '--immediate-mode',
        '-s',
        '0',
        '-w',
        cap,
        'tcp',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let dumpErr = '';
    dump.stderr.on('data', (d) => {
      dumpErr += d;
    });
    await expect.poll(() => dumpErr.includes('listening on'), { timeout: 5000 }).toBe(true);
    const marker = `WEFT-MARKER-${process.pid}-`;
    const meshed = lastJson<{ reply?: { bytes: number } }>(
      await runInPod(c.pod('shop/client'), markerClient(serverIP, marker)),
    );
    const plain = lastJson<{ reply?: { bytes: number } }>(
      await runInPod(c.pod('outside/plain'), markerClient(serverIP, `${marker}PLAIN`)),
    );
    await new Promise((r) => setTimeout(r, 300));
    dump.kill('SIGINT');
    await new Promise((r) => dump.on('close', r));
    const bytes = readFileSync(cap);
    rmSync(cap, { force: true });
    expect(meshed.reply?.bytes).toBeGreaterThan(0);
    expect(plain.reply?.bytes).toBeGreaterThan(0);
    const text = bytes.toString('latin1');
    // The capture works: the client outside the mesh sent its marker in the clear...
    expect(text).toContain(`${marker}PLAIN`);
    // ...while the mesh client's marker never appears, and TLS 1.3 application records do.
    expect(text.split(`${marker}PLAIN`).join('')).not.toContain(marker);
    expect(bytes.includes(Buffer.from([0x17, 0x03, 0x03]))).toBe(true);
    // The TLS went to the HBONE port.
    expect(bytes.includes(Buffer.from([0x3a, 0xa0]))).toBe(true); // 15008
  });

  it('carries an end that comes before any byte, and the answer after it, on every path', async () => {
    // The client's FIN (over HBONE, its END_STREAM) often comes while the proxy still dials
    // the app, and Node emits its 'end' unread: the join passes it on (pipe.ts). The sink
    // answers once it has read it. Over HBONE, handed off on the same node, plaintext from
    // outside the mesh, and plaintext to a pod outside it; a race, so several times each.
    const paths = [
      ['shop/client', serverIP],
      ['shop/client', c.pod('shop/near').ip],
      ['outside/plain', serverIP],
      ['shop/client', c.pod('outside/plain').ip],
    ] as const;
    for (const [from, host] of paths) {
      const r = lastJson<{ answered: number; failed?: string }>(
        await runInPod(c.pod(from), endFirstClient(host, 8080, 20), 30_000),
      );
      expect({ from, host, ...r }).toEqual({ from, host, answered: 20 });
    }
  });

  it('carries resets through the tunnel both ways', async () => {
    // The server app resets: the client app sees ECONNRESET, not a hang or a clean end.
    const reset = await c.serve('shop/server', resetServer(8081));
    const r = lastJson<{ error?: string; reply?: string }>(
      await runInPod(c.pod('shop/client'), rawClient(serverIP, 8081, 'hello')),
    );
    expect(r.error).toBe('ECONNRESET');
    // The client app resets: the server app sees its connection reset too.
    let seen = '';
    reset.stdout?.on('data', (d) => {
      seen += d;
    });
    await runInPod(c.pod('shop/client'), resetClient(serverIP, 8081));
    await expect.poll(() => seen, { timeout: 5000 }).toContain('server saw ECONNRESET');
  });

  it("names the client's SPIFFE ID in the server side's access log", async () => {
    const r = await transfer('shop/client', 2048);
    expect(r.reply?.bytes).toBe(2048);
    const log = (await admin('node-2', '/access-log')) as {
      via: string;
      source: string | null;
      destination: string;
    }[];
    expect(log).toContainEqual(
      expect.objectContaining({ via: 'hbone', source: CLIENT_ID, destination: `${serverIP}:8080` }),
    );
  });

  it('refuses a client certificate from another CA', async () => {
    const other = await CertificateAuthority.load(
      await generateRootCA({ trustDomain: 'cluster.local' }),
    );
    const { keyPem, csrPem } = await generateKeyAndCsr(CLIENT_ID);
    const s = await other.signSvid(csrPem, CLIENT_ID);
    const r = await probeHbone(
      c.pod('outside/plain').netnsPath,
      serverIP,
      { key: keyPem, cert: s.certPem, ca: roots },
      connect(),
    );
    expect(r.outcome).toBe('handshake-failed');
  });

  it('refuses an expired client certificate from the right CA', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr(CLIENT_ID);
    const s = await ca.signSvid(csrPem, CLIENT_ID, {
      now: new Date(Date.now() - 48 * 3600_000),
      lifetimeMs: 3600_000,
    });
    const r = await probeHbone(
      c.pod('outside/plain').netnsPath,
      serverIP,
      { key: keyPem, cert: s.certPem, ca: roots },
      connect(),
    );
    expect(r.outcome).toBe('handshake-failed');
  });

  it('refuses a certificate from the right CA without a SPIFFE ID of the trust domain', async () => {
    const { key, cert } = await leafWithSan(
      c.sandbox.caDir,
      'spiffe://evil.example/ns/shop/sa/client',
    );
    const r = await probeHbone(
      c.pod('outside/plain').netnsPath,
      serverIP,
      { key, cert, ca: roots },
      connect(),
    );
    expect(r.outcome).toBe(403);
  });

  it('refuses non-CONNECT requests, unknown targets and plaintext on 15008', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr(CLIENT_ID);
    const s = await ca.signSvid(csrPem, CLIENT_ID);
    const creds = { key: keyPem, cert: s.certPem, ca: roots };
    const pod = c.pod('outside/plain').netnsPath;
    // The certificate is shop/client's: the client address it gives must be that pod's.
    const fwd = { forwarded: `for="${c.pod('shop/client').ip}"` };
    expect(
      (await probeHbone(pod, serverIP, creds, { ...connect(`${serverIP}:8080`), ...fwd })).outcome,
    ).toBe(200);
    expect(
      (await probeHbone(pod, serverIP, creds, { ':method': 'GET', ':path': '/' })).outcome,
    ).toBe(405);
    expect(
      (await probeHbone(pod, serverIP, creds, connect(`${c.pod('shop/client').ip}:8080`))).outcome,
    ).toBe(404);
    const plaintext = lastJson<{ reply?: string; error?: string }>(
      await runInPod(
        c.pod('outside/plain'),
        rawClient(serverIP, 15008, 'CONNECT x HTTP/1.1\r\n\r\n'),
      ),
    );
    expect(plaintext.reply ?? '').not.toMatch(/HTTP\/1\.1 200/);
  });

  it('refuses an agent an identity of a pod on another node', async () => {
    const token = readFileSync(c.sandbox.tokenFile('node-1'), 'utf8');
    const client = new CaClient({ address: c.sandbox.issuerSocket(), token });
    const { csrPem } = await generateKeyAndCsr(SERVER_ID);
    await expect(client.sign(csrPem, SERVER_ID)).rejects.toMatchObject({
      status: 403,
      message: 'node node-1 runs no pod with service account shop/server',
    } satisfies Partial<IssuerError>);
    const mine = await client.sign((await generateKeyAndCsr(CLIENT_ID)).csrPem, CLIENT_ID);
    expect(mine.certPem).toContain('BEGIN CERTIFICATE');
    const bad = new CaClient({ address: c.sandbox.issuerSocket(), token: 'nope' });
    await expect(bad.sign(csrPem, SERVER_ID)).rejects.toMatchObject({ status: 401 });
  });

  it('admits plaintext from outside the mesh in permissive mode, refuses it at once in strict mode', async () => {
    expect((await transfer('outside/plain', 100)).reply?.bytes).toBe(100);
    c.write('ns.yaml', ns('strict'));
    await expect
      .poll(async () => (await transfer('outside/plain', 100)).error, {
        timeout: 5000,
        interval: 100,
      })
      .toBe('ECONNREFUSED');
    // Mesh clients still get through, over mTLS.
    expect((await transfer('shop/client', 100)).reply?.bytes).toBe(100);
    const events = (await admin('node-2', '/events')) as {
      kind: string;
      verdict: string;
      addr: string;
      port: number;
    }[];
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'sk_lookup', verdict: 'deny', addr: serverIP, port: 8080 }),
    );
    c.write('ns.yaml', ns('permissive'));
    await expect
      .poll(async () => (await transfer('outside/plain', 100)).reply?.bytes, {
        timeout: 5000,
        interval: 100,
      })
      .toBe(100);
  });
});

const connect = (authority = '') => ({ ':method': 'CONNECT', ':authority': authority || 'SERVER' });

function markerClient(host: string, marker: string): string {
  return transferClient(host, 8080, 0)
    .replace(
      'const data = Buffer.alloc(0);',
      `const data = Buffer.from(${JSON.stringify(marker.repeat(20))});`,
    )
    .replace(/^for \(let i = 0; i < data\.length.*$/m, '');
}

/**
 * `n` connections one after another, each half-closed before any byte; stops at the first
 * that gets no answer (the sink's, for no bytes) and an end within a second.
 */
const endFirstClient = (host: string, port: number, n: number) => `
import net from 'node:net';
let answered = 0;
for (let i = 0; i < ${n}; i++) {
  const r = await new Promise((resolve) => {
    const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port}, allowHalfOpen: true });
    let reply = '';
    const t = setTimeout(() => { s.destroy(); resolve('TIMEOUT'); }, 1000);
    s.on('connect', () => s.end());
    s.on('data', (d) => { reply += d; });
    s.on('end', () => { clearTimeout(t); s.destroy(); resolve(JSON.parse(reply).bytes === 0 ? 'ok' : reply); });
    s.on('error', (e) => { clearTimeout(t); resolve(e.code); });
  });
  if (r !== 'ok') { console.log(JSON.stringify({ answered, failed: r })); process.exit(0); }
  answered++;
}
console.log(JSON.stringify({ answered }));
`;

/** Resets every connection after its first bytes, and reports a client's reset. */
const resetServer = (port: number) => `
import net from 'node:net';
net.createServer((s) => {
  s.on('data', (d) => { if (d.toString() === 'hello') s.resetAndDestroy(); });
  s.on('error', (e) => console.log('server saw ' + e.code));
}).listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

/** Sends a little, waits for it to cross, then resets. */
const resetClient = (host: string, port: number) => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: ${port} }, () => {
  s.write('wait');
  setTimeout(() => { s.resetAndDestroy(); setTimeout(() => console.log('{}'), 200); }, 300);
});
s.on('error', () => {});
`;

function rawClient(host: string, port: number, send: string): string {
  return `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: ${port} }, () => s.write(${JSON.stringify(send)}));
let reply = '';
let error;
s.setTimeout(3000, () => { console.log(JSON.stringify({ reply, error: 'TIMEOUT' })); process.exit(0); });
s.on('data', (d) => { reply += d.toString('latin1'); });
s.on('error', (e) => { error = e.code; });
s.on('close', () => console.log(JSON.stringify({ reply, error })));
`;
}

/** A leaf signed by the sandbox CA's own key, with whatever URI SAN we like. */
async function leafWithSan(caDir: string, uri: string): Promise<{ key: string; cert: string }> {
  const { importSigningKey } = await import('../../../agent/src/identity/keys.ts');
  const signing = await importSigningKey(readFileSync(join(caDir, 'ca-key.pem'), 'utf8'));
  const caCert = new x509.X509Certificate(readFileSync(join(caDir, 'ca.pem'), 'utf8'));
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de',
    subject: 'O=evil',
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    publicKey: keys.publicKey,
    signingKey: signing.key,
    signingAlgorithm: signing.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]),
    ],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
    'base64',
  );
  return {
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`,
    cert: cert.toString('pem'),
  };
}
