// The worst case of the HBONE server's memory bounds (proxy/hbone/limits.ts),
// on loopback: an authenticated peer opens STREAMS CONNECT streams, PER of them
// per session, to an app that never reads, and fills each as far as flow
// control lets it. The server is the agent's own HboneServer in a child process
// with the agent's heap flags; its RSS before and after is the cost of what
// its bounds let through. Prints one JSON line.
//   node bench/hbone-memory.ts [STREAMS=510] [PER=1]
import { once } from 'node:events';
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { emptyPolicy } from '../agent/src/compile/policy.ts';
import { CertificateAuthority, generateRootCA } from '../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../agent/src/identity/keys.ts';
import { InboundL7 } from '../agent/src/l7/inbound.ts';
import { DEFAULT_KEEPALIVE } from '../agent/src/proxy/hbone/keepalive.ts';
import { DEFAULT_HBONE_LIMITS, HboneGuard } from '../agent/src/proxy/hbone/limits.ts';
import { HboneServer } from '../agent/src/proxy/hbone/server.ts';
import { H2_SETTINGS } from '../agent/src/proxy/hbone/tls.ts';
import { tuneStreams } from '../agent/src/proxy/pipe.ts';
import { SocketPool } from '../agent/src/proxy/socket-pool.ts';
import type { Pod } from '../agent/src/state/types.ts';
import { AccessLog } from '../agent/src/telemetry/access-log.ts';
import { DirectionStats } from '../agent/src/telemetry/stats.ts';
import { agentNodeFlags } from './agent-flags.ts';
import { benchCleanup, spawnOwned } from './teardown.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/bench/sa/client';
const client: Pod = {
  namespace: 'bench',
  name: 'client',
  labels: {},
  annotations: {},
  serviceAccountName: 'client',
  nodeName: 'node',
  ports: [],
  podIP: '127.0.0.1',
};

async function serve(port: number, material: string): Promise<void> {
  tuneStreams();
  const guard = new HboneGuard(DEFAULT_HBONE_LIMITS);
  await HboneServer.open(
    {
      workloadKey: 'bench/server',
      netnsPath: '/proc/self/ns/net',
      podIP: '127.0.0.1',
      trustDomain: 'cluster.local',
      sinks: { stats: new DirectionStats(), log: new AccessLog(), observer: null, registry: null },
      pool: new SocketPool(),
      inboundL7: new InboundL7(),
      identity: null,
      report: (e) => console.error(e),
      keepalive: DEFAULT_KEEPALIVE,
      guard,
      spoofed: () => {},
      policy: () => ({ ...emptyPolicy, podsByIP: new Map([['127.0.0.1', client]]) }),
    },
    JSON.parse(material),
    port,
  );
  const report = () => console.log(JSON.stringify({ rss: process.memoryUsage().rss }));
  report();
  process.stdin.on('data', report);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function main(): Promise<void> {
  const streams = Number(process.argv[2] ?? 510);
  const per = Number(process.argv[3] ?? 1);
  const ca = await CertificateAuthority.load(
    await generateRootCA({ trustDomain: 'cluster.local' }),
  );
  const leaf = async (id: string) => {
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    return { keyPem, certPem: (await ca.signSvid(csrPem, id)).certPem };
  };
  const srv = await leaf('spiffe://cluster.local/ns/bench/sa/server');
  const cli = await leaf(CLIENT_ID);
  // The app: accepts and never reads.
  const held: Socket[] = [];
  const app = createServer((s) => {
    s.pause();
    s.on('error', () => {});
    held.push(s);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;
  const port = await freePort();
  const material = { keyPem: srv.keyPem, certChainPem: srv.certPem, roots: [ca.certPem] };
  // The server is a child the cleanup kills, also on a signal or a throw.
  const cleanup = benchCleanup();
  const child = spawnOwned(
    [
      process.execPath,
      ...agentNodeFlags(),
      import.meta.filename,
      'serve',
      String(port),
      JSON.stringify(material),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const rss: number[] = [];
  child.stdout!.on('data', (d) => {
    for (const l of String(d).trim().split('\n')) rss.push(JSON.parse(l).rss);
  });
  while (rss.length === 0) await new Promise((r) => setTimeout(r, 50));
  const sessions: ClientHttp2Session[] = [];
  const session = async () => {
    const tls = tlsConnect({
      host: '127.0.0.1',
      port,
      key: cli.keyPem,
      cert: cli.certPem,
      ca: [ca.certPem],
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    const s = await new Promise<ClientHttp2Session>((resolve) =>
      tls.once('secureConnect', () =>
        resolve(
          h2connect(`https://127.0.0.1:${port}`, {
            maxSessionMemory: 4000,
            settings: H2_SETTINGS,
            createConnection: () => tls,
          }),
        ),
      ),
    );
    s.on('error', () => {});
    await once(s, 'remoteSettings');
    s.setLocalWindowSize(32 * 1024 * 1024);
    sessions.push(s);
    return s;
  };
  const chunk = Buffer.alloc(256 * 1024, 1);
  const codes: Record<number, number> = {};
  let admitted = 0;
  const all: Promise<void>[] = [];
  for (let i = 0; i < streams; i++) {
    if (i % per === 0) await session();
    const s = sessions.at(-1)!.request(
      {
        ':method': 'CONNECT',
        ':authority': `127.0.0.1:${appPort}`,
        forwarded: 'for="127.0.0.1"',
      },
      { endStream: false },
    );
    s.on('error', () => {});
    all.push(
      new Promise<void>((resolve) => {
        s.on('close', () => {
          codes[s.rstCode ?? 0] = (codes[s.rstCode ?? 0] ?? 0) + 1;
          resolve();
        });
        s.on('response', () => {
          admitted++;
          // As far as flow control lets it, at most 16 MiB.
          let sent = 0;
          const pump = () => {
            while (sent < 16 * 1048576) {
              sent += chunk.length;
              if (!s.write(chunk)) return void s.once('drain', pump);
            }
          };
          pump();
          setTimeout(resolve, 100);
        });
      }),
    );
  }
  await Promise.all(all);
  // Settle: the windows fill, the app's queues fill.
  await new Promise((r) => setTimeout(r, 8000));
  child.stdin!.write('\n');
  while (rss.length < 2) await new Promise((r) => setTimeout(r, 50));
  const mib = (n: number) => Math.round(n / 1048576);
  console.log(
    JSON.stringify({
      streams,
      perSession: per,
      admitted,
      resetCodes: codes,
      rssIdleMiB: mib(rss[0]!),
      rssStalledMiB: mib(rss[1]!),
      perAdmittedStreamMiB: Number(((rss[1]! - rss[0]!) / 1048576 / admitted).toFixed(2)),
    }),
  );
  cleanup.dispose();
  process.exit(0);
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3]), process.argv[4]!);
else await main();
