// An in-process mesh for L7 engine tests, on loopback addresses of this
// process's own: the proxy's outbound path (handleOutbound with its L7 hook)
// behind a listener per VIP port, a client workload with a real certificate,
// echo pods reached the three ways a connection leaves the proxy: plaintext
// (a pod outside the mesh), HBONE over mutual TLS (mesh pods "on another
// node", each with its own HBONE server), and the same-node hand-off.
// The original destination comes from the listener (the datapath's map is
// not involved); everything after it is the agent's code.
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { createSecureContext } from 'node:tls';
import { compileDecisions } from '../../agent/src/compile/decisions.ts';
import { emptyPolicy } from '../../agent/src/compile/policy.ts';
import { CertificateAuthority, generateRootCA } from '../../agent/src/identity/ca.ts';
import { generateKeyAndCsr } from '../../agent/src/identity/keys.ts';
import { peerId } from '../../agent/src/identity/spiffe/spiffe.ts';
import { L7Engine } from '../../agent/src/l7/engine.ts';
import { InboundL7 } from '../../agent/src/l7/inbound.ts';
import { HbonePool } from '../../agent/src/proxy/hbone/client.ts';
import { DEFAULT_KEEPALIVE } from '../../agent/src/proxy/hbone/keepalive.ts';
import { DEFAULT_HBONE_LIMITS, HboneGuard } from '../../agent/src/proxy/hbone/limits.ts';
import { HboneServer } from '../../agent/src/proxy/hbone/server.ts';
import { handleOutbound, type OutboundContext } from '../../agent/src/proxy/outbound.ts';
import { SocketPool } from '../../agent/src/proxy/socket-pool.ts';
import type { ProxyTables } from '../../agent/src/proxy/tables.ts';
import type { AuthorizationPolicy } from '../../agent/src/state/authz-types.ts';
import type { Endpoint, ServiceTarget } from '../../agent/src/state/service-endpoints.ts';
import type { Pod } from '../../agent/src/state/types.ts';
import { emptyDecisions, type NodeDecisions } from '../../agent/src/tables/decisions.ts';
import type { MeshPeer } from '../../agent/src/tables/peers.ts';
import type { PolicyTables } from '../../agent/src/tables/policy.ts';
import { emptyRoutes, type RouteTables } from '../../agent/src/tables/routes.ts';
import { AccessLog } from '../../agent/src/telemetry/access-log.ts';
import type { ConnectionSinks } from '../../agent/src/telemetry/connection.ts';
import type { RequestRecord } from '../../agent/src/telemetry/request-record.ts';
import { DirectionStats } from '../../agent/src/telemetry/stats.ts';
import { type EchoPod, echoPod } from './echo.ts';

const SELF = '/proc/self/ns/net';
const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/shop/sa/server';
export const PORTS = { http: 8080, h2: 9090, tcp: 7000 };

/** How each echo pod is reached from the client. */
export type Way = 'plaintext' | 'hbone' | 'local';

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
  /** Swaps the AuthorizationPolicies every pod's inbound side enforces (by its compiled decision table). */
  setAuthorization(policies: AuthorizationPolicy[]): void;
  close(): Promise<void>;
}

/** Telemetry for both sides, as the agent wires it: metrics, the access log, traces. */
export type MeshTelemetry = Pick<ConnectionSinks, 'observer' | 'requests' | 'tracing'>;

/**
 * With `echo: false` the pods have no echo servers (a benchmark brings its own apps).
 * With `telemetry`, the engine and the HBONE servers report to it instead of `records`;
 * `rand` feeds the engine's draws.
 */
export async function l7Mesh(
  tag: number,
  o: { echo?: boolean; telemetry?: MeshTelemetry; rand?: () => number } = {},
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
  const clientPod: Pod = {
    namespace: 'shop',
    name: 'client',
    labels: {},
    annotations: {},
    serviceAccountName: 'client',
    nodeName: 'n1',
    ports: [],
    podIP: clientIP,
  };
  const podOf = (name: string, ip: string, sa: string): Pod => ({
    ...clientPod,
    name,
    labels: { app: name },
    serviceAccountName: sa,
    podIP: ip,
  });
  let policy: PolicyTables = {
    ...emptyPolicy,
    podsByIP: new Map([[clientIP, clientPod]]),
    pods: new Map([['shop/client', clientPod]]),
    namespaces: new Map([['shop', { labels: {} }]]),
  };
  let decisions: NodeDecisions = emptyDecisions;
  const pods: Record<string, MeshPod> = {};
  const peers = new Map<string, MeshPeer>();
  const servers: HboneServer[] = [];
  // The destination sides of the two nodes' proxies: n1 (the client's, the hand-off) and n2.
  const inboundN1 = new InboundL7();
  const inboundN2 = new InboundL7();
  const plan: [string, Way][] = [
    ['plain', 'plaintext'],
    ['remote', 'hbone'],
    ['local', 'local'],
    ['remote2', 'hbone'],
    ['mirror', 'plaintext'],
  ];
  for (let i = 0; i < plan.length; i++) {
    const [name, way] = plan[i]!;
    const ip = `${base}.${i + 2}`;
    const key = `shop/${name}`;
    const echo =
      o.echo === false
        ? { seen: [], connections: { http: 0, h2: 0 }, close: async () => {} }
        : await echoPod(key, ip, PORTS);
    pods[name] = { key, ip, way, echo, ep: (port) => ({ ip, port, pod: key }) };
    (policy.pods as Map<string, Pod>).set(key, podOf(name, ip, 'server'));
    (policy.podsByIP as Map<string, Pod>).set(ip, podOf(name, ip, 'server'));
    if (way === 'plaintext') continue;
    peers.set(ip, { key, ip, node: way === 'local' ? 'n1' : 'n2', identity: SERVER_ID });
    if (way !== 'hbone') continue;
    servers.push(
      await HboneServer.open(
        {
          workloadKey: key,
          netnsPath: SELF,
          podIP: ip,
          trustDomain: 'cluster.local',
          sinks: sinksOf(new DirectionStats(), telemetry),
          identity: SERVER_ID,
          pool: sockets,
          inboundL7: inboundN2,
          report: () => {},
          keepalive: DEFAULT_KEEPALIVE,
          guard: new HboneGuard(DEFAULT_HBONE_LIMITS),
          spoofed: () => {},
          policy: () => policy,
          // The destination decides by lookup in its compiled table, as the agent does.
          decisions: () => decisions.ingress.get(key),
        },
        { keyPem: srv.keyPem, certChainPem: srv.certPem, roots: [ca.certPem] },
        15008,
      ),
    );
  }
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
    setAuthorization(policies) {
      policy = { ...policy, authorizationPolicies: policies };
      decisions = compileDecisions(policy, new Map(), [...policy.pods.keys()]);
      tables = { ...tables, version: tables.version + 1, policy, decisions };
    },
    async close() {
      for (const l of listeners.values()) l.close();
      engine.close();
      hbone.close();
      for (const s of servers) s.close();
      inboundN1.close();
      inboundN2.close();
      await Promise.all(Object.values(pods).map((p) => p.echo.close()));
      sockets.close();
    },
  };
}

/** A connection record's sinks over these counters (no registry; telemetry when given). */
function sinksOf(stats: DirectionStats, t?: MeshTelemetry): ConnectionSinks {
  return {
    stats,
    log: new AccessLog(),
    observer: t?.observer ?? null,
    registry: null,
    requests: t?.requests ?? null,
    tracing: t?.tracing ?? null,
  };
}
