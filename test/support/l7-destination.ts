// The destination node of the in-process L7 mesh (l7-mesh.ts): an HBONE server
// per pod "on another node", deciding by lookup in its compiled table as the
// agent does. It runs in the mesh's process, or in a process of its own
// (`node l7-destination.ts`, driven over IPC) so the two node proxies of a
// benchmark are two processes, as they are on two nodes.

import { compileDecisions } from '../../agent/src/compile/decisions.ts';
import { emptyPolicy } from '../../agent/src/compile/policy.ts';
import { InboundL7 } from '../../agent/src/l7/inbound.ts';
import { DEFAULT_KEEPALIVE } from '../../agent/src/proxy/hbone/keepalive.ts';
import { DEFAULT_HBONE_LIMITS, HboneGuard } from '../../agent/src/proxy/hbone/limits.ts';
import { HboneServer } from '../../agent/src/proxy/hbone/server.ts';
import { SocketPool } from '../../agent/src/proxy/socket-pool.ts';
import type { AuthorizationPolicy } from '../../agent/src/state/authz-types.ts';
import type { Pod } from '../../agent/src/state/types.ts';
import { emptyDecisions, type NodeDecisions } from '../../agent/src/tables/decisions.ts';
import type { PolicyTables } from '../../agent/src/tables/policy.ts';
import { AccessLog } from '../../agent/src/telemetry/access-log.ts';
import type { ConnectionSinks } from '../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../agent/src/telemetry/stats.ts';

const SELF = '/proc/self/ns/net';
export const SERVER_ID = 'spiffe://cluster.local/ns/shop/sa/server';

/** How each echo pod is reached from the client. */
export type Way = 'plaintext' | 'hbone' | 'local';

/** The mesh's pods after the client (`<base>.1`): `<base>.<i + 2>`. */
export const PLAN: readonly [string, Way][] = [
  ['plain', 'plaintext'],
  ['remote', 'hbone'],
  ['local', 'local'],
  ['remote2', 'hbone'],
  ['mirror', 'plaintext'],
];

export const podIp = (base: string, i: number) => `${base}.${i + 2}`;

/** Telemetry for both sides, as the agent wires it: metrics, the access log, traces. */
export type MeshTelemetry = Pick<ConnectionSinks, 'observer' | 'requests' | 'tracing'>;

/** A connection record's sinks over these counters (no registry; telemetry when given). */
export function sinksOf(stats: DirectionStats, t?: MeshTelemetry): ConnectionSinks {
  return {
    stats,
    log: new AccessLog(),
    observer: t?.observer ?? null,
    registry: null,
    requests: t?.requests ?? null,
    tracing: t?.tracing ?? null,
  };
}

/** The cluster as both sides see it: the client and every pod of the plan. */
export function meshPolicy(base: string): PolicyTables {
  const clientIP = `${base}.1`;
  const client: Pod = {
    namespace: 'shop',
    name: 'client',
    labels: {},
    annotations: {},
    serviceAccountName: 'client',
    nodeName: 'n1',
    ports: [],
    podIP: clientIP,
  };
  const pods = new Map<string, Pod>([['shop/client', client]]);
  const byIP = new Map<string, Pod>([[clientIP, client]]);
  PLAN.forEach(([name], i) => {
    const ip = podIp(base, i);
    const pod = {
      ...client,
      name,
      labels: { app: name },
      serviceAccountName: 'server',
      podIP: ip,
    };
    pods.set(`shop/${name}`, pod);
    byIP.set(ip, pod);
  });
  return { ...emptyPolicy, podsByIP: byIP, pods, namespaces: new Map([['shop', { labels: {} }]]) };
}

export interface DestinationConfig {
  base: string;
  /** The server workloads' certificate and key, and the roots they trust. */
  keyPem: string;
  certPem: string;
  caPem: string;
}

export interface Destination {
  /** Swaps the AuthorizationPolicies every pod enforces. */
  setAuthorization(policies: AuthorizationPolicy[]): void;
  close(): void;
}

/** Opens the HBONE servers of the plan's "hbone" pods. */
export async function openDestination(
  cfg: DestinationConfig,
  telemetry?: MeshTelemetry,
): Promise<Destination> {
  let policy = meshPolicy(cfg.base);
  let decisions: NodeDecisions = emptyDecisions;
  const sockets = new SocketPool();
  // The destination side of this node's proxy.
  const inboundL7 = new InboundL7();
  const servers: HboneServer[] = [];
  for (const [i, [name, way]] of PLAN.entries()) {
    if (way !== 'hbone') continue;
    const key = `shop/${name}`;
    servers.push(
      await HboneServer.open(
        {
          workloadKey: key,
          netnsPath: SELF,
          podIP: podIp(cfg.base, i),
          trustDomain: 'cluster.local',
          sinks: sinksOf(new DirectionStats(), telemetry),
          identity: SERVER_ID,
          pool: sockets,
          inboundL7,
          report: () => {},
          keepalive: DEFAULT_KEEPALIVE,
          guard: new HboneGuard(DEFAULT_HBONE_LIMITS),
          spoofed: () => {},
          policy: () => policy,
          // The destination decides by lookup in its compiled table, as the agent does.
          decisions: () => decisions.ingress.get(key),
        },
        { keyPem: cfg.keyPem, certChainPem: cfg.certPem, roots: [cfg.caPem] },
        15008,
      ),
    );
  }
  return {
    setAuthorization(policies) {
      policy = { ...policy, authorizationPolicies: policies };
      decisions = compileDecisions(policy, new Map(), [...policy.pods.keys()]);
    },
    close() {
      for (const s of servers) s.close();
      inboundL7.close();
      sockets.close();
    },
  };
}

// Run as a process: the config as JSON in argv[2]; `{policies}` messages swap the
// policies and are answered `done`; the process exits when its parent goes.
if (import.meta.main && process.send) {
  const d = await openDestination(JSON.parse(process.argv[2]!) as DestinationConfig);
  process.on('message', (m: { policies: AuthorizationPolicy[] }) => {
    d.setAuthorization(m.policies);
    process.send!('done');
  });
  process.on('disconnect', () => {
    d.close();
    process.exit(0);
  });
  process.send('ready');
}
