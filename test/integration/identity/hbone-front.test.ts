// The HBONE server's front in a 2-node sandbox: a client address in Forwarded
// is believed only for a pod of the certificate's identity; connections that
// never finish their handshake are bounded per source and closed after the
// handshake timeout; streams beyond the agent's bound are refused.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, constants as h2, connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectInNetns } from '../../../agent/src/datapath/netns.ts';
import { CertificateAuthority } from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { DEFAULT_HBONE_LIMITS } from '../../../agent/src/proxy/hbone/limits.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import { probeHbone } from '../../support/tls-peer.ts';

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'client', 'node-1', { sa: 'client' }),
  pod('shop', 'other', 'node-1', { sa: 'other' }),
  pod('shop', 'server', 'node-2', { sa: 'server', ports: '{containerPort: 8080}' }),
  pod('outside', 'plain', 'node-1'),
);

const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';
const HANDSHAKE_S = 1;
const MAX_STREAMS = 4;
const IDLE = 200;

describePrivileged('HBONE front: client addresses, handshakes, streams', () => {
  let c: TestCluster;
  let serverIP: string;
  let creds: { key: string; cert: string; ca: string[] };
  const connectTo = (authority = `${serverIP}:8080`, forwarded?: string) => ({
    ':method': 'CONNECT',
    ':authority': authority,
    ...(forwarded !== undefined ? { forwarded } : {}),
  });
  const hbone = async () => (await c.status('node-2')).proxy.hbone!;

  beforeAll(async () => {
    c = await testCluster('f', { 'all.yaml': manifests }, 2, {
      agentArgs: [
        '--hbone-handshake-timeout',
        String(HANDSHAKE_S),
        '--hbone-max-streams',
        String(MAX_STREAMS),
      ],
    });
    serverIP = c.pod('shop/server').ip;
    await c.serve('shop/server', sinkServer(8080));
    const dir = c.sandbox.caDir;
    const ca = await CertificateAuthority.load({
      certPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'ca-key.pem'), 'utf8'),
    });
    // pod A's (shop/client's) real certificate, as a node that runs it holds it.
    const { keyPem, csrPem } = await generateKeyAndCsr(CLIENT_ID);
    const s = await ca.signSvid(csrPem, CLIENT_ID);
    creds = { key: keyPem, cert: s.certPem, ca: [readFileSync(join(dir, 'roots.pem'), 'utf8')] };
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it("refuses a certificate of pod A claiming pod B's address, admits its own", async () => {
    const from = c.pod('outside/plain').netnsPath;
    const a = c.pod('shop/client').ip;
    const b = c.pod('shop/other').ip;
    const before = (await hbone()).spoofedSources;
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, `for="${b}"`))).outcome,
    ).toBe(403);
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, `for="${a}"`))).outcome,
    ).toBe(200);
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, `for=${a}`))).outcome,
    ).toBe(200);
    // No header: the tunnel's own source address is checked the same way (here: not A's).
    expect((await probeHbone(from, serverIP, creds, connectTo())).outcome).toBe(403);
    // An address no pod has, a chain of hops, other parameters: refused too.
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, 'for="10.255.0.1"'))).outcome,
    ).toBe(403);
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, `for=${a}, for=${b}`))).outcome,
    ).toBe(400);
    expect(
      (await probeHbone(from, serverIP, creds, connectTo(undefined, `for=${a};by=${b}`))).outcome,
    ).toBe(400);
    expect((await hbone()).spoofedSources).toBe(before + 3);
    // Logged as an attack (at most a line a second, so at least the first).
    const agentLog = readFileSync(
      c.sandbox.state.nodes.find((n) => n.name === 'node-2')!.log,
      'utf8',
    );
    expect(agentLog).toContain(
      `hbone: ATTACK? refused a CONNECT whose client address is not its certificate's: shop/server: client address ${b} is pod shop/other, not of ${CLIENT_ID}`,
    );
    expect(await accessLog()).toContainEqual(
      expect.objectContaining({
        result: 'refused',
        detail: `client address ${b} is pod shop/other, not of ${CLIENT_ID}`,
      }),
    );
    // The mesh's own client still gets through.
    const r = lastJson<TransferResult>(
      await runInPod(c.pod('shop/client'), transferClient(serverIP, 8080, 1000), 30_000),
    );
    expect(r.reply?.bytes).toBe(1000);
  });

  it('closes idle connections beyond the per-source bound at once, the rest after the handshake timeout', async () => {
    const from = c.pod('outside/plain').netnsPath;
    const limit = DEFAULT_HBONE_LIMITS.maxPendingPerSource;
    const before = await hbone();
    const idle: { s: Socket; closed: boolean }[] = [];
    for (let i = 0; i < IDLE; i++) {
      const s = connectInNetns(from, { host: serverIP, port: 15008 });
      const e = { s, closed: false };
      s.on('error', () => {});
      s.on('close', () => {
        e.closed = true;
      });
      idle.push(e);
      await new Promise((r) => {
        s.once('connect', r);
        s.once('close', r);
      });
    }
    try {
      // Those beyond the bound are closed as they arrive; the first `limit` stay open.
      await expect
        .poll(() => idle.filter((e) => e.closed).length, { timeout: HANDSHAKE_S * 500 })
        .toBe(IDLE - limit);
      expect(idle.slice(0, limit).every((e) => !e.closed)).toBe(true);
      expect((await hbone()).refusedConnections - before.refusedConnections).toBe(IDLE - limit);
      // A legitimate peer from another address still gets through.
      const r = lastJson<TransferResult>(
        await runInPod(c.pod('shop/client'), transferClient(serverIP, 8080, 1000), 30_000),
      );
      expect(r.reply?.bytes).toBe(1000);
      // After the handshake timeout every idle one is closed, and the source may connect again.
      await expect
        .poll(() => idle.every((e) => e.closed), { timeout: HANDSHAKE_S * 1000 + 5000 })
        .toBe(true);
      expect((await hbone()).handshakeTimeouts - before.handshakeTimeouts).toBe(limit);
      const a = c.pod('shop/client').ip;
      expect(
        (await probeHbone(from, serverIP, creds, connectTo(undefined, `for="${a}"`))).outcome,
      ).toBe(200);
    } finally {
      for (const e of idle) e.s.destroy();
    }
  });

  it("refuses streams beyond the agent's bound with REFUSED_STREAM, and serves the first ones", async () => {
    const session = await hboneSession(c.pod('outside/plain').netnsPath, serverIP, creds);
    try {
      expect(session.remoteSettings.maxConcurrentStreams).toBe(
        DEFAULT_HBONE_LIMITS.maxStreamsPerSession,
      );
      const a = c.pod('shop/client').ip;
      const streams = Array.from({ length: MAX_STREAMS + 2 }, () =>
        session.request(connectTo(undefined, `for="${a}"`), { endStream: false }),
      );
      const outcomes = await Promise.all(
        streams.map(
          (s) =>
            new Promise<number | string>((resolve) => {
              s.on('response', (h) => resolve(Number(h[':status'])));
              s.on('error', () => {});
              s.on('close', () =>
                resolve(
                  s.rstCode === h2.NGHTTP2_REFUSED_STREAM ? 'refused' : `closed ${s.rstCode}`,
                ),
              );
            }),
        ),
      );
      expect(outcomes).toEqual([...Array(MAX_STREAMS).fill(200), 'refused', 'refused']);
      // The admitted ones carry data to the app and back.
      const first = streams[0]!;
      let reply = '';
      first.on('data', (d) => {
        reply += d;
      });
      first.end(Buffer.alloc(300, 1));
      await once(first, 'end');
      expect(JSON.parse(reply).bytes).toBe(300);
      // A stream closed frees its place.
      const next = session.request(connectTo(undefined, `for="${a}"`), { endStream: false });
      const [h] = (await once(next, 'response')) as [Record<string, string>];
      expect(Number(h[':status'])).toBe(200);
      expect((await hbone()).refusedStreams).toBeGreaterThanOrEqual(2);
    } finally {
      session.destroy();
    }
  });

  async function accessLog() {
    const { adminGet } = await import('../../../agent/src/admin/client.ts');
    return adminGet<unknown[]>(
      c.sandbox.state.nodes.find((n) => n.name === 'node-2')!.adminSocket,
      '/access-log',
    );
  }
});

/** A client HTTP/2 session over mutual TLS to host:15008, made from netnsPath. */
async function hboneSession(
  netnsPath: string,
  host: string,
  creds: { key: string; cert: string; ca: string[] },
): Promise<ClientHttp2Session> {
  const raw = connectInNetns(netnsPath, { host, port: 15008 });
  const tls = tlsConnect({
    socket: raw,
    ...creds,
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  // The session takes the socket within the handshake's callback, before it reads.
  const session = await new Promise<ClientHttp2Session>((resolve, reject) => {
    tls.once('error', reject);
    tls.once('secureConnect', () =>
      resolve(h2connect(`https://${host}:15008`, { createConnection: () => tls })),
    );
  });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  return session;
}
