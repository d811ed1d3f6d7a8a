// Workload enrollment in the kernel: `enrolled` (a pod's cgroup → its workload
// id and flags, for connect-time hooks), `inbound_targets` (each of its
// addresses → its listener slot and flags, for sk_lookup), `inbound_socks` (its
// inbound listeners) and `conn_orig` (where a redirected connection was going).
import { existsSync } from 'node:fs';
import { constants } from '../tables/index.ts';
import { type Decoded, decodeAddr, encodeAddr } from './codec.ts';
import type { BpfMap } from './map.ts';
import type { LoadedObject } from './object.ts';
import { cgroupId } from './system.ts';

export interface EnrolledEntry {
  cgroupDir: string;
  podIP: string;
  /** Every address of the pod (dual stack), podIP first; absent means podIP alone. */
  podIPs?: readonly string[];
  netnsPath: string;
}

/**
 * inbound_socks holds two listeners per workload: its IPv4 one at the workload
 * id, its IPv6 one this far above (a socket serves one family: an IPv4 lookup
 * cannot be given a v6-only socket, nor the other way round). So workload ids
 * stop below it.
 */
export const INBOUND_V6_SLOT = 8192;

/** The inbound_socks slot sk_lookup steers an address of workload id to. */
export function sockIndex(id: number, addr: string): number {
  return addr.includes(':') ? id + INBOUND_V6_SLOT : id;
}

/** Every address sk_lookup steers to the workload. */
export function addressesOf(e: Partial<EnrolledEntry>): readonly string[] {
  return e.podIPs?.length ? e.podIPs : e.podIP ? [e.podIP] : [];
}

export class Enrollment {
  readonly enrolled: BpfMap<bigint, Decoded>;
  private readonly connOrig: BpfMap<Decoded, Decoded>;
  readonly targets: BpfMap<Decoded, Decoded>;
  private readonly socks: BpfMap<number, bigint>;
  private readonly origKey = { workload_id: 0, port: 0, family: 0 };

  constructor(o: LoadedObject) {
    this.enrolled = o.map('enrolled');
    this.connOrig = o.map('conn_orig');
    this.targets = o.map('inbound_targets');
    this.socks = o.map('inbound_socks');
  }

  /** Workload ids already in the pinned map, by cgroup id: kept across restarts. */
  existingIds(): Map<bigint, number> {
    return new Map(this.enrolled.entries().map(([k, v]) => [k, v.id as number]));
  }

  /**
   * A pod's entries, once sk_lookup is on its netns: its inbound listeners
   * (IPv4, and IPv6 when the pod has it; -1 for none), every address of the
   * pod, then its cgroup. An address whose family has no listener is steered
   * all the same, to an empty slot: refused, never around the proxy.
   */
  enroll(id: number, e: EnrolledEntry, inboundFd: number, strict = false, inboundFd6 = -1): void {
    this.setInbound(id, inboundFd, inboundFd6);
    const flags = strict ? constants.WL_F_STRICT : 0;
    for (const ip of addressesOf(e)) {
      const a = encodeAddr(ip);
      this.targets.set(
        { addr: a.bytes, port: 0, family: a.family },
        { sock_index: sockIndex(id, ip), workload_id: id, flags },
      );
    }
    // Last: from here on the pod's connect()s are redirected, and the proxy is ready.
    this.enrolled.set(cgroupId(e.cgroupDir), { id, flags });
  }

  /** Switches an enrolled pod between strict and permissive mTLS in place. */
  setStrict(id: number, e: EnrolledEntry, strict: boolean): void {
    for (const ip of addressesOf(e)) this.setTargetFlag(id, ip, constants.WL_F_STRICT, strict);
    this.setFlag(id, e.cgroupDir, constants.WL_F_STRICT, strict);
  }

  /** A flag of the workload's connect-time entry (keyed by its cgroup). */
  setFlag(id: number, cgroupDir: string, flag: number, on: boolean): void {
    const cg = cgroupId(cgroupDir);
    const cur = (this.enrolled.get(cg)?.flags as number | undefined) ?? 0;
    this.enrolled.set(cg, { id, flags: on ? cur | flag : cur & ~flag });
  }

  /** A flag of the workload's sk_lookup entry (keyed by its address). */
  setTargetFlag(id: number, podIP: string, flag: number, on: boolean): void {
    const a = encodeAddr(podIP);
    const k = { addr: a.bytes, port: 0, family: a.family };
    const cur = (this.targets.get(k)?.flags as number | undefined) ?? 0;
    this.targets.set(k, {
      sock_index: sockIndex(id, podIP),
      workload_id: id,
      flags: on ? cur | flag : cur & ~flag,
    });
  }

  flagsOf(cgroupDir: string): number | undefined {
    return this.enrolled.get(cgroupId(cgroupDir))?.flags as number | undefined;
  }

  targetFlagsOf(podIP: string): number | undefined {
    const a = encodeAddr(podIP);
    return this.targets.get({ addr: a.bytes, port: 0, family: a.family })?.flags as
      | number
      | undefined;
  }

  /** A pod's entries out: new connections go direct again; established ones are untouched. */
  unenroll(id: number, e: Partial<EnrolledEntry>): void {
    if (e.cgroupDir && existsSync(e.cgroupDir)) this.enrolled.delete(cgroupId(e.cgroupDir));
    for (const [k, v] of this.enrolled.entries()) if (v.id === id) this.enrolled.delete(k);
    for (const ip of addressesOf(e)) {
      const a = encodeAddr(ip);
      this.targets.delete({ addr: a.bytes, port: 0, family: a.family });
    }
    this.socks.delete(id);
    this.socks.delete(id + INBOUND_V6_SLOT);
  }

  /** Registers a workload's inbound listeners (-1: none of that family). */
  setInbound(id: number, inboundFd: number, inboundFd6 = -1): void {
    if (inboundFd >= 0) this.socks.set(id, BigInt(inboundFd));
    else this.socks.delete(id);
    if (inboundFd6 >= 0) this.socks.set(id + INBOUND_V6_SLOT, BigInt(inboundFd6));
    else this.socks.delete(id + INBOUND_V6_SLOT);
  }

  /** The original destination of a redirected connection, consumed on read. */
  takeOrig(
    workloadId: number,
    port: number,
    v6: boolean,
  ): { ip: string; port: number } | undefined {
    const k = this.origKey;
    k.workload_id = workloadId;
    k.port = port;
    k.family = v6 ? constants.AF_INET6 : constants.AF_INET;
    const v = this.connOrig.take(k);
    if (!v) return undefined;
    return { ip: decodeAddr(v.family as number, v.addr as Buffer), port: v.port as number };
  }

  close(): void {
    for (const m of [this.enrolled, this.connOrig, this.targets, this.socks]) m.close();
  }
}
