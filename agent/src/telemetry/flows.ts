// Flows: one record per verdict the node made, from the kernel (connect-time
// and sk_lookup refusals) and from the proxy (each connection it carried or
// refused, when it opens and when it ends), with pods named, numbered so
// `weft observe` can ask for what is new.

import type { DatapathEvent } from '../datapath/index.ts';
import type { PolicyTables } from '../tables/index.ts';
import type { AccessEntry } from './access-log.ts';
import { BoundedLog, clipFields } from './bounded-log.ts';
import type { Connection, ConnectionObserver } from './connection.ts';

export interface Flow {
  seq: number;
  /** A connection the proxy opened (and carries), or one that ended or was refused. */
  event: 'open' | 'end';
  /** ISO 8601; kept as ms since the epoch and formatted when read. */
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

/** Flows kept at most, and their estimated bytes at most (the oldest go first). */
export const FLOW_LOG_ENTRIES = 5000;
export const FLOW_LOG_BYTES = 4 * 1024 * 1024;

type StoredFlow = Omit<Flow, 'time'> & { time: number };

export class FlowLog implements ConnectionObserver {
  private readonly ring: BoundedLog<StoredFlow>;
  private seq = 0;
  private readonly node: string;
  private readonly tables: () => PolicyTables;

  constructor(
    node: string,
    tables: () => PolicyTables,
    entries = FLOW_LOG_ENTRIES,
    bytes = FLOW_LOG_BYTES,
  ) {
    this.node = node;
    this.tables = tables;
    this.ring = new BoundedLog(entries, bytes);
  }

  private name(ip: string): string {
    const t = this.tables();
    const p = t.podsByIP.get(ip);
    if (p) return `${p.namespace}/${p.name}`;
    return t.servicesByIP.get(ip) ?? ip;
  }

  private push(f: Omit<Flow, 'seq' | 'node' | 'time'>): void {
    this.ring.push(clipFields({ seq: ++this.seq, time: Date.now(), node: this.node, ...f }));
  }

  fromKernel(e: DatapathEvent, workloadKey: (id: number) => string | undefined): void {
    const who = workloadKey(e.workloadId) ?? `workload ${e.workloadId}`;
    const egress = e.kind === 'connect' || e.kind === 'sendmsg';
    const udp = e.protocol === 'UDP' ? ' (UDP)' : '';
    this.push({
      event: 'end',
      source: egress ? who : 'plaintext peer',
      destination: egress ? this.name(e.addr) : who,
      port: e.port,
      verdict: e.verdict === 'deny' ? 'deny' : 'allow',
      where: `${egress ? `${e.kind}()` : 'sk_lookup'}${udp}`,
      identity: null,
      reason: egress ? 'egress NetworkPolicy' : 'ingress NetworkPolicy or strict mTLS',
    });
  }

  /** The last destination split (an L7 connection logs each request with the same one). */
  private dest = { text: '', ip: '', port: 0 };

  private split(destination: string): { ip: string; port: number } {
    const d = this.dest;
    if (d.text === destination) return d;
    const [ip = '', port = '0'] = splitHostPort(destination);
    this.dest = { text: destination, ip, port: Number(port) };
    return this.dest;
  }

  fromProxy(e: AccessEntry): void {
    const { ip, port } = this.split(e.destination);
    const where = whereOf(e.direction, e.via);
    if (e.audit) {
      this.push({
        event: 'end',
        source: e.sourceAddress ? this.name(e.sourceAddress) : (e.source ?? 'unknown'),
        destination: e.destinationWorkload ?? this.name(ip),
        port,
        verdict: 'audit',
        where,
        identity: e.source,
        reason: `audited by ${e.audit}`,
      });
    }
    this.push({
      event: 'end',
      source: e.sourceAddress ? this.name(e.sourceAddress) : (e.source ?? 'unknown'),
      destination: e.destinationWorkload ?? this.name(ip),
      port,
      verdict: e.result === 'refused' ? 'deny' : 'allow',
      where,
      identity: e.source,
      reason: e.detail ?? (e.result === 'reset' ? 'carried, ended by a reset' : 'carried'),
    });
  }

  /** A connection the proxy now carries; its end comes as its access log entry (fromProxy). */
  opened(c: Connection): void {
    // A refusal is told opened and closed at once: its one flow is the refusal.
    if (c.closed) return;
    const { ip, port } = this.split(c.destination);
    this.push({
      event: 'open',
      source: c.sourceAddress ? this.name(c.sourceAddress) : (c.source ?? 'unknown'),
      destination: c.destinationWorkload ?? this.name(ip),
      port,
      verdict: 'allow',
      where: whereOf(c.direction, c.via),
      identity: c.source,
      reason: 'opened',
    });
  }

  closed(): void {}

  /** Flows numbered above seq. Numbers are consecutive, so the ring is sliced, not scanned. */
  since(seq: number): Flow[] {
    const oldest = this.seq - this.ring.length + 1;
    return this.ring
      .slice(seq - oldest + 1)
      .map((f) => ({ ...f, time: new Date(f.time).toISOString() }));
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.ring.bytes;
  }
}

const WHERE: Record<AccessEntry['direction'], Record<AccessEntry['via'], string>> = {
  outbound: {
    hbone: 'proxy outbound (hbone)',
    local: 'proxy outbound (local)',
    plaintext: 'proxy outbound (plaintext)',
  },
  inbound: {
    hbone: 'proxy inbound (hbone)',
    local: 'proxy inbound (local)',
    plaintext: 'proxy inbound (plaintext)',
  },
};

/** `proxy <direction> (<via>)`, written out once rather than per flow. */
function whereOf(direction: AccessEntry['direction'], via: AccessEntry['via']): string {
  return WHERE[direction]?.[via] ?? `proxy ${direction} (${via})`;
}

function splitHostPort(s: string): [string, string] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, '0'] : [s.slice(0, i).replace(/^\[|\]$/g, ''), s.slice(i + 1)];
}
