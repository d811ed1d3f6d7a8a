// The HBONE client's pool against a server that allows few streams per
// session: a full session is retired and the next stream goes to a fresh one,
// rather than waiting in HTTP/2's queue behind streams that may last for hours.
// The agent's own client (HbonePool) and server (HboneServer) on a loopback
// address of this test's own.
import { once } from 'node:events';
import type { ClientHttp2Stream } from 'node:http2';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/compile/policy.ts';
import { CertificateAuthority, generateRootCA } from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { InboundL7 } from '../../../agent/src/l7/inbound.ts';
import { HbonePool } from '../../../agent/src/proxy/hbone/client.ts';
import { DEFAULT_KEEPALIVE } from '../../../agent/src/proxy/hbone/keepalive.ts';
import { DEFAULT_HBONE_LIMITS, HboneGuard } from '../../../agent/src/proxy/hbone/limits.ts';
import { HboneServer } from '../../../agent/src/proxy/hbone/server.ts';
import type { TlsMaterial } from '../../../agent/src/proxy/hbone/tls.ts';
import { SocketPool } from '../../../agent/src/proxy/socket-pool.ts';
import type { Pod } from '../../../agent/src/state/types.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { describePrivileged } from '../../support/privileged.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/t/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/t/sa/server';
const HOST = `127.0.86.${(process.pid % 250) + 1}`;
const SELF = '/proc/self/ns/net';
const PER_SESSION = 2;

describePrivileged('HBONE pool and the per-session stream bound', () => {
  let hbone: HboneServer;
  let material: TlsMaterial;
  let app: Server;
  let appPort: number;
  let pool: HbonePool;
  const sockets = new SocketPool();
  const held: Socket[] = [];

  beforeAll(async () => {
    const ca = await CertificateAuthority.load(
      await generateRootCA({ trustDomain: 'cluster.local' }),
    );
    const leaf = async (id: string) => {
      const { keyPem, csrPem } = await generateKeyAndCsr(id);
      return { keyPem, certPem: (await ca.signSvid(csrPem, id)).certPem };
    };
    const srv = await leaf(SERVER_ID);
    material = { keyPem: srv.keyPem, certChainPem: srv.certPem, roots: [ca.certPem] };
    const cli = await leaf(CLIENT_ID);
    app = createServer((s) => {
      s.on('error', () => {});
      held.push(s);
    });
    await new Promise<void>((r) => app.listen(0, HOST, r));
    appPort = (app.address() as AddressInfo).port;
    const client: Pod = {
      namespace: 't',
      name: 'client',
      labels: {},
      annotations: {},
      serviceAccountName: 'client',
      nodeName: 'n',
      ports: [],
      podIP: HOST,
    };
    hbone = await HboneServer.open(
      {
        workloadKey: 't/server',
        netnsPath: SELF,
        podIP: HOST,
        trustDomain: 'cluster.local',
        sinks: {
          stats: new DirectionStats(),
          log: new AccessLog(),
          observer: null,
          registry: null,
        },
        pool: sockets,
        inboundL7: new InboundL7(),
        identity: null,
        report: () => {},
        keepalive: DEFAULT_KEEPALIVE,
        guard: new HboneGuard({ ...DEFAULT_HBONE_LIMITS, maxStreamsPerSession: PER_SESSION }),
        spoofed: () => {},
        policy: () => ({ ...emptyPolicy, podsByIP: new Map([[HOST, client]]) }),
      },
      material,
      15008,
    );
    const ctx = createSecureContext({ key: cli.keyPem, cert: cli.certPem, ca: [ca.certPem] });
    pool = new HbonePool(sockets, () => ctx);
  });
  afterAll(async () => {
    pool?.close();
    hbone?.close();
    for (const s of held) s.destroy();
    await new Promise((r) => app?.close(r));
    sockets.close();
  });

  it('builds a TLS context again only for new material', () => {
    const m = material;
    expect(hbone.update({ ...m })).toBe(false);
    expect(hbone.update({ ...m, roots: [...m.roots] })).toBe(true);
  });

  it('opens a fresh session when one is full, so every stream is answered', async () => {
    const open = () =>
      pool.open({
        srcNetns: SELF,
        srcIdentity: CLIENT_ID,
        srcAddress: HOST,
        dstIp: HOST,
        dstIdentity: SERVER_ID,
        port: appPort,
        authority: `${HOST}:${appPort}`,
      })!;
    const streams: ClientHttp2Stream[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 2 * PER_SESSION + 1; i++) {
      const s = open();
      s.on('error', () => {});
      streams.push(s);
      // Each stream stays open (its app connection is held): a queued one would never answer.
      const [h] = (await once(s, 'response')) as [Record<string, string>];
      statuses.push(Number(h[':status']));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(streams.map((s) => s.session)).size).toBe(3);
    for (const s of streams) s.close();
  });
});
