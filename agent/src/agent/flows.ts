// Flows: one record per verdict the node made, from the kernel (connect-time
// and sk_lookup refusals) and from the proxy (each connection it carried or
// refused), with pods named, numbered so `weft observe` can ask for what is new.
import type { PolicyTables } from '../compile/policy.ts';
import type { DatapathEvent } from '../datapath/events.ts';
import type { AccessEntry } from '../proxy/access-log.ts';

export interface Flow {
  seq: number;
  time: string;
  node: string;
  /** namespace/pod, or an address outside the cluster. */
  source: string;
  /** namespace/pod, namespace/svc/name for a Service VIP, or an address outside the cluster. */
  destination: string;
  port: number;
  verdict: 'allow' | 'deny' | 'audit';
  /** Where it was decided: connect(), sk_lookup, or the proxy (outbound, inbound, hbone...). */
  where: string;
  identity: string | null;
  reason: string;
}

const MAX = 5000;

export class FlowLog {
  private readonly ring: Flow[] = [];
  private seq = 0;
  private readonly node: string;
  private readonly tables: () => PolicyTables;

  constructor(node: string, tables: () => PolicyTables) {
    this.node = node;
    this.tables = tables;
  }

  private name(ip: string): string {
    const t = this.tables();
    const p = t.podsByIP.get(ip);
    if (p) return `${p.namespace}/${p.name}`;
    return t.servicesByIP.get(ip) ?? ip;
  }

  private push(f: Omit<Flow, 'seq' | 'node' | 'time'>): void {
    if (this.ring.length === MAX) this.ring.shift();
    this.ring.push({ seq: ++this.seq, time: new Date().toISOString(), node: this.node, ...f });
  }

  fromKernel(e: DatapathEvent, workloadKey: (id: number) => string | undefined): void {
    const who = workloadKey(e.workloadId) ?? `workload ${e.workloadId}`;
    const connect = e.kind === 'connect';
    this.push({
      source: connect ? who : 'plaintext peer',
      destination: connect ? this.name(e.addr) : who,
      port: e.port,
      verdict: e.verdict === 'deny' ? 'deny' : 'allow',
      where: connect ? 'connect()' : 'sk_lookup',
      identity: null,
      reason: connect ? 'egress NetworkPolicy' : 'ingress NetworkPolicy or strict mTLS',
    });
  }

  fromProxy(e: AccessEntry): void {
    const [ip = '', port = '0'] = splitHostPort(e.destination);
    if (e.audit) {
      this.push({
        source: e.sourceAddress ? this.name(e.sourceAddress) : (e.source ?? 'unknown'),
        destination: e.destinationWorkload ?? this.name(ip),
        port: Number(port),
        verdict: 'audit',
        where: `proxy ${e.direction} (${e.via})`,
        identity: e.source,
        reason: `audited by ${e.audit}`,
      });
    }
    this.push({
      source: e.sourceAddress ? this.name(e.sourceAddress) : (e.source ?? 'unknown'),
      destination: e.destinationWorkload ?? this.name(ip),
      port: Number(port),
      verdict: e.result === 'refused' ? 'deny' : 'allow',
      where: `proxy ${e.direction} (${e.via})`,
      identity: e.source,
      reason: e.detail ?? (e.result === 'reset' ? 'carried, ended by a reset' : 'carried'),
    });
  }

  since(seq: number): Flow[] {
    return this.ring.filter((f) => f.seq > seq);
  }
}

function splitHostPort(s: string): [string, string] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, '0'] : [s.slice(0, i).replace(/^\[|\]$/g, ''), s.slice(i + 1)];
}
