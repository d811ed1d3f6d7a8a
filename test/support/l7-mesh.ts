// An in-process mesh for L7 engine tests, on loopback addresses of this
// process's own: the proxy's outbound path (handleOutbound with its L7 hook)
// behind a listener per VIP port, a client workload with a real certificate,
// echo pods reached the three ways a connection leaves the proxy: plaintext
// (a pod outside the mesh), HBONE over mutual TLS (mesh pods "on another
// node", each with its own HBONE server), and the same-node hand-off.
// The original destination comes from the listener (the datapath's map is
// not involved); everything after it is the agent's code. The destination
// node's HBONE servers (l7-destination.ts) run in this process, or with
// `destination: 'process'` in a process of their own.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { compileDecisions } from '../../agent/src/compile/decisions.ts';
import { CertificateAuthority, generateRootCA } from '../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../agent/src/identity/keys.ts';
import { peerId } from '../../agent/src/identity/spiffe/spiffe.ts';
import { L7Engine } from '../../agent/src/l7/engine.ts';
import { InboundL7 } from '../../agent/src/l7/inbound.ts';
import { HbonePool } from '../../agent/src/proxy/hbone/client.ts';
import { handleOutbound, type OutboundContext } from '../../agent/src/proxy/outbound.ts';
import { SocketPool } from '../../agent/src/proxy/socket-pool.ts';
import type { ProxyTables } from '../../agent/src/proxy/tables.ts';
import type { AuthorizationPolicy } from '../../agent/src/state/authz-types.ts';
import type { Endpoint, ServiceTarget } from '../../agent/src/state/service-endpoints.ts';
import { emptyDecisions } from '../../agent/src/tables/decisions.ts';
import type { MeshPeer } from '../../agent/src/tables/peers.ts';
import { emptyRoutes, type RouteTables } from '../../agent/src/tables/routes.ts';
import type { RequestRecord } from '../../agent/src/telemetry/request-record.ts';
import { DirectionStats } from '../../agent/src/telemetry/stats.ts';
import { type EchoPod, echoPod } from './echo.ts';
import {
  type Destination,
  type DestinationConfig,
  type MeshTelemetry,
  meshPolicy,
  openDestination,
  PLAN,
  podIp,
  SERVER_ID,
  sinksOf,
  type Way,
} from './l7-destination.ts';

export type { MeshTelemetry, Way } from './l7-destination.ts';

const SELF = '/proc/self/ns/net';
const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';
export const PORTS = { http: 8080, h2: 9090, tcp: 7000 };

export interface MeshPod {
  key: string;
  ip: string;
  way: Way;
  echo: EchoPod;
  /** Its endpoint on a port (8080 HTTP/1.1, 9090 h2c and gRPC, 7000 raw TCP). */
  ep(port: number): Endpoint;
}

export interface L7Mesh {
  readonly vip: string;
  readonly pods: Record<string, MeshPod>;
  readonly engine: L7Engine;
  readonly records: RequestRecord[];
  readonly hbone: HbonePool;
  readonly stats: DirectionStats;
  /** Where the client app connects for `vip:port` (the outbound listener, with that original destination). */
  address(port: number): Promise<{ host: string; port: number }>;
  /** Swaps the tables: the Service table (vip:port → endpoints) and routes. */
  setTables(services: Record<string, ServiceTarget>, routes?: RouteTables): void;
  /** Swaps the AuthorizationPolicies every pod's inbound side enforces (resolves once in force). */
  setAuthorization(policies: AuthorizationPolicy[]): Promise<void>;
  /** Processes of the mesh besides this one (the destination's, when it has its own). */
  readonly pids: number[];
  close(): Promise<void>;
}

/**
 * With `echo: false` the pods have no echo servers (a benchmark brings its own apps).
 * With `telemetry`, the engine and the HBONE servers report to it instead of `records`;
 * `rand` feeds the engine's draws.
 */
export async function l7Mesh(
  tag: number,
  o: {
    echo?: boolean;
    telemetry?: MeshTelemetry;
    rand?: () => number;
    destination?: 'in-process' | 'process';
  } = {},
): Promise<L7Mesh> {
  const telemetry = o.telemetry;
  const base = `127.${tag}.${(process.pid % 250) + 1}`;
  const clientIP = `${base}.1`;
  const vip = `${base}.100`;
  const ca = await CertificateAuthority.load(
    await generateRootCA({ trustDomain: 'cluster.local' }),
  );
  const leaf = async (id: string) => {
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    return { keyPem, certPem: (await ca.signSvid(csrPem, id)).certPem };
  };
  const srv = await leaf(SERVER_ID);
  const cli = await leaf(CLIENT_ID);
  const sockets = new SocketPool();
  let policy = meshPolicy(base);
  const pods: Record<string, MeshPod> = {};
  const peers = new Map<string, MeshPeer>();
  for (const [i, [name, way]] of PLAN.entries()) {
    const ip = podIp(base, i);
    const key = `shop/${name}`;
    const echo =
      o.echo === false
        ? { seen: [], connections: { http: 0, h2: 0 }, close: async () => {} }
        : await echoPod(key, ip, PORTS);
    pods[name] = { key, ip, way, echo, ep: (port) => ({ ip, port, pod: key }) };
    if (way === 'plaintext') continue;
    peers.set(ip, { key, ip, node: way === 'local' ? 'n1' : 'n2', identity: SERVER_ID });
  }
  const dcfg: DestinationConfig = {
    base,
    keyPem: srv.keyPem,
    certPem: srv.certPem,
    caPem: ca.certPem,
  };
  const destination =
    o.destination === 'process'
      ? await destinationProcess(dcfg)
      : { pids: [], ...(await openDestination(dcfg, telemetry)) };
  // The destination side of the client's node proxy (the same-node hand-off).
  const inboundN1 = new InboundL7();
  const ctx = createSecureContext({ key: cli.keyPem, cert: cli.certPem, ca: [ca.certPem] });
  const hbone = new HbonePool(sockets, () => ctx);
  const records: RequestRecord[] = [];
  const engine = new L7Engine({
    ...(telemetry
      ? { sink: telemetry.requests ?? undefined, tracing: telemetry.tracing ?? null }
      : { sink: { request: (r: RequestRecord) => records.push(r) } }),
    ...(o.rand ? { rand: o.rand } : {}),
  });
  let tables: ProxyTables = {
    version: 1,
    services: new Map(),
    peers,
    policy,
    decisions: emptyDecisions,
    routes: emptyRoutes,
  };
  const stats = new DirectionStats();
  const localStats = new DirectionStats();
  const listeners = new Map<number, Server>();
  const outbound = (port: number): OutboundContext => ({
    workloadId: 1,
    workloadKey: 'shop/client',
    netnsPath: SELF,
    podIP: clientIP,
    podIPs: [clientIP],
    identity: CLIENT_ID,
    peer: peerId(CLIENT_ID),
    sinks: sinksOf(stats, telemetry),
    lookup: () => ({ ip: vip, port }),
    pools: engine.pools,
    pool: sockets,
    hbone,
    l7: engine,
    local: (key) =>
      key === pods.local!.key
        ? {
            key,
            netnsPath: SELF,
            sinks: sinksOf(localStats),
            inboundL7: inboundN1,
            identity: SERVER_ID,
          }
        : undefined,
    tables: () => tables,
  });
  return {
    vip,
    pods,
    engine,
    records,
    hbone,
    stats,
    async address(port) {
      let l = listeners.get(port);
      if (!l) {
        const ctx = outbound(port);
        l = createServer({ allowHalfOpen: true, noDelay: true }, (s) => handleOutbound(ctx, s));
        l.listen(0, clientIP);
        await once(l, 'listening');
        listeners.set(port, l);
      }
      return { host: clientIP, port: (l.address() as AddressInfo).port };
    },
    setTables(services, routes = emptyRoutes) {
      tables = {
        ...tables,
        version: tables.version + 1,
        services: new Map(Object.entries(services)),
        routes,
      };
    },
    pids: destination.pids,
    async setAuthorization(policies) {
      policy = { ...policy, authorizationPolicies: policies };
      const decisions = compileDecisions(policy, new Map(), [...policy.pods.keys()]);
      tables = { ...tables, version: tables.version + 1, policy, decisions };
      await destination.setAuthorization(policies);
    },
    async close() {
      for (const l of listeners.values()) l.close();
      engine.close();
      hbone.close();
      destination.close();
      inboundN1.close();
      await Promise.all(Object.values(pods).map((p) => p.echo.close()));
      sockets.close();
    },
  };
}

/** The destination in a process of its own (l7-destination.ts), driven over IPC. */
async function destinationProcess(cfg: DestinationConfig): Promise<
  { pids: number[] } & {
    [K in keyof Destination]: (...a: Parameters<Destination[K]>) => Promise<void> | void;
  }
> {
  const child = fork(join(import.meta.dirname, 'l7-destination.ts'), [JSON.stringify(cfg)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [first] = (await Promise.race([once(child, 'message'), once(child, 'exit')])) as unknown[];
  if (first !== 'ready')
    throw new Error(`the destination process did not start (${String(first)})`);
  return {
    pids: [child.pid!],
    async setAuthorization(policies) {
      child.send({ policies });
      await once(child, 'message');
    },
    close() {
      child.disconnect();
    },
  };
}
