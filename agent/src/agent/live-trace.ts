// `weft policy trace --live`: a trace with this agent's view of the cluster,
// plus what the tables installed in its kernel say for the pods on this node.
import type { NodeDatapath } from '../datapath/index.ts';
import type { PortPoolSnapshot } from '../l7/index.ts';
import { type Trace, type TraceStage, tracePolicy } from '../policy/index.ts';
import type { AuthzRequest, Snapshot } from '../state/index.ts';
import type { RouteTables } from '../tables/index.ts';
import { type Applied, enrolledEntry } from './apply.ts';
import { type AgentOptions, rootNamespaceOf, trustDomainOf } from './options.ts';
import { installedRouteStage, poolStage } from './route-trace.ts';

export interface TraceQuery {
  from: string;
  to: string;
  port: number;
  protocol?: 'TCP' | 'UDP';
  http?: AuthzRequest;
}

export function liveTrace(
  q: TraceQuery,
  snap: Snapshot | null,
  opts: AgentOptions,
  applied: ReadonlyMap<string, Applied>,
  datapath: NodeDatapath,
  routes: RouteTables,
  pools?: readonly PortPoolSnapshot[],
): Trace {
  if (!snap) throw new Error('no snapshot yet');
  const t = tracePolicy({
    cluster: snap,
    trustDomain: trustDomainOf(opts),
    rootNamespace: rootNamespaceOf(opts),
    mtlsDefault: opts.mtlsDefault,
    ...q,
  });
  const stages: TraceStage[] = [...t.stages];
  const routed = installedRouteStage(routes, opts.node, snap, q);
  if (routed) stages.push(routed);
  const pool = pools && poolStage(pools, opts.node, t.stages);
  if (pool) stages.push(pool);
  const installed = (key: string) => applied.get(key);
  const src = snap.pods.get(q.from);
  const target = q.to.includes('/svc/') ? undefined : snap.pods.get(q.to);
  // A Service: its VIP's own entry, which the compiler judged by the pods behind it.
  const [svcNs, , svcName] = q.to.split('/');
  const vip = target ? undefined : snap.services.get(`${svcNs}/${svcName}`)?.clusterIP;
  const targetIP = target?.podIP ?? vip;
  const mine = (a: Applied) => enrolledEntry(a.workload);
  const srcApplied = installed(q.from);
  if (srcApplied && targetIP) {
    const r = datapath.lookupPeer(
      'egress',
      srcApplied.id,
      mine(srcApplied),
      targetIP,
      q.port,
      q.protocol,
    );
    stages.push({
      stage: `egress, installed on ${opts.node}`,
      result: r.isolated ? (r.allowed ? 'allow' : 'deny') : 'info',
      reason: r.isolated
        ? `egress_allow ${q.protocol ?? 'TCP'} entry for ${vip ? `the VIP ${targetIP}` : targetIP}: ${r.ports}`
        : `${q.from} is not isolated for egress in the kernel`,
    });
  }
  const dstApplied = target ? installed(q.to) : undefined;
  if (dstApplied && src?.podIP) {
    const r = datapath.lookupPeer(
      'ingress',
      dstApplied.id,
      mine(dstApplied),
      src.podIP,
      q.port,
      q.protocol,
    );
    // UDP is decided here for every peer; TCP from mesh peers arrives over HBONE instead.
    const udp = q.protocol === 'UDP';
    stages.push({
      stage: `ingress (${udp ? 'UDP' : 'plaintext'}), installed on ${opts.node}`,
      result: udp && r.isolated ? (r.allowed ? 'allow' : 'deny') : 'info',
      reason: r.isolated
        ? udp
          ? `ingress_allow UDP entry for ${src.podIP}: ${r.ports}`
          : `ingress_allow entry for ${src.podIP}: ${r.ports} (${r.allowed ? 'would admit' : 'would refuse'} plaintext; mesh peers arrive over HBONE)`
        : `${q.to} is not isolated for ${udp ? 'UDP' : 'plaintext'} ingress in the kernel`,
    });
  }
  return { ...t, stages, verdict: stages.some((x) => x.result === 'deny') ? 'deny' : 'allow' };
}
