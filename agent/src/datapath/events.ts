// Verdict events from the ring buffer, decoded, on Node's event loop.
import { EventEmitter } from 'node:events';
import { constants, Event } from '../tables/index.ts';
import { codecFor, type Decoded, decodeAddr } from './codec.ts';
import { type NativeRingBuffer, native } from './native.ts';

export type EventKind = 'connect' | 'sendmsg' | 'sk_lookup' | 'unknown';
export type VerdictName = 'allow' | 'deny' | 'redirect' | 'unknown';

export interface DatapathEvent {
  tsNs: bigint;
  cgroupId: bigint;
  cookie: bigint;
  workloadId: number;
  policyId: number;
  rule: number;
  kind: EventKind;
  verdict: VerdictName;
  /** Destination of the connect or datagram (or local address for sk_lookup). */
  addr: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'unknown';
}

const kinds: Record<number, EventKind> = {
  [constants.EV_CONNECT]: 'connect',
  [constants.EV_SK_LOOKUP]: 'sk_lookup',
  [constants.EV_SENDMSG]: 'sendmsg',
};
const protocols: Record<number, DatapathEvent['protocol']> = {
  [constants.PROTO_TCP]: 'TCP',
  [constants.PROTO_UDP]: 'UDP',
};
const verdicts: Record<number, VerdictName> = {
  [constants.VERDICT_ALLOW]: 'allow',
  [constants.VERDICT_DENY]: 'deny',
  [constants.VERDICT_REDIRECT]: 'redirect',
};

const codec = codecFor<Decoded>(Event);

export function decodeEvent(buf: Buffer): DatapathEvent {
  const e = codec.decode(buf);
  return {
    tsNs: e.ts_ns as bigint,
    cgroupId: e.cgroup_id as bigint,
    cookie: e.cookie as bigint,
    workloadId: e.workload_id as number,
    policyId: e.policy_id as number,
    rule: e.rule as number,
    kind: kinds[e.kind as number] ?? 'unknown',
    verdict: verdicts[e.verdict as number] ?? 'unknown',
    addr: decodeAddr(e.family as number, e.addr as Buffer),
    port: e.port as number,
    protocol: protocols[e.protocol as number] ?? 'unknown',
  };
}

/**
 * Emits 'event' (DatapathEvent) for each record and 'error' for one it cannot
 * decode. Does not keep the process alive unless ref() is called.
 */
export class EventStream extends EventEmitter<{ event: [DatapathEvent]; error: [Error] }> {
  private rb: NativeRingBuffer | null;
  private readonly fd: number;

  /** Takes ownership of the ring buffer map's fd. */
  constructor(ringFd: number) {
    super();
    this.fd = ringFd;
    this.rb = new (native().RingBuffer)(ringFd, (records) => {
      for (const r of records) {
        let ev: DatapathEvent;
        try {
          ev = decodeEvent(r);
        } catch (err) {
          this.emit('error', err as Error);
          continue;
        }
        this.emit('event', ev);
      }
    });
    this.rb.unref();
  }

  ref(): this {
    this.rb?.ref();
    return this;
  }

  /** Delivers what is pending now, without waiting for the loop to poll. */
  drain(): number {
    return this.rb?.consume() ?? 0;
  }

  close(): void {
    if (!this.rb) return;
    this.rb.close();
    this.rb = null;
    native().closeFd(this.fd);
  }
}
