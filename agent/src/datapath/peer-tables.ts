// The kernel's NetworkPolicy tables: `egress_allow` (checked at connect() and
// sendmsg()) and `ingress_allow` (checked by sk_lookup for plaintext peers), LPM
// tries keyed by (workload and generation, IP protocol, peer prefix). Written in
// two generations per workload, flipped by the workload's enrollment entries.

import { constants, type PeerProtocol, type PeerTable } from '../tables/index.ts';
import { addr16, type Decoded, encodeAddr } from './codec.ts';
import { addressesOf, type EnrolledEntry, type Enrollment, sockIndex } from './enrollment.ts';
import type { BpfMap } from './map.ts';
import type { LoadedObject } from './object.ts';
import { cgroupId } from './system.ts';

const PROTO: Record<PeerProtocol, number> = {
  TCP: constants.PROTO_TCP,
  UDP: constants.PROTO_UDP,
};

export class PeerTables {
  private readonly enrollment: Enrollment;
  private readonly egressAllow: BpfMap<Decoded, Decoded>;
  /** Per workload id: the egress_allow keys this agent wrote, by compiler key. */
  private readonly egressKeys = new Map<number, { signature: string; keys: Decoded[] }>();
  private readonly ingressAllow: BpfMap<Decoded, Decoded>;
  private readonly ingressKeys = new Map<number, { signature: string; keys: Decoded[] }>();

  constructor(o: LoadedObject, enrollment: Enrollment) {
    this.enrollment = enrollment;
    this.egressAllow = o.map('egress_allow');
    this.ingressAllow = o.map('ingress_allow');
  }

  /**
   * Makes a workload's NetworkPolicy table in the kernel what the compiler says
   * (egress: checked at connect(); ingress: checked by sk_lookup for plaintext
   * peers). Two generations per workload: the new table is written beside the
   * live one, then one map update flips the workload's generation bit (and its
   * isolation flag) at once, then the old generation goes. No connection ever
   * sees half of an update. An unchanged table is not rewritten.
   */
  setPeerTable(kind: 'egress' | 'ingress', id: number, e: EnrolledEntry, table: PeerTable): void {
    const map = kind === 'egress' ? this.egressAllow : this.ingressAllow;
    const written = kind === 'egress' ? this.egressKeys : this.ingressKeys;
    const genFlag = kind === 'egress' ? constants.WL_F_EGRESS_GEN : constants.WL_F_INGRESS_GEN;
    const isoFlag =
      kind === 'egress' ? constants.WL_F_EGRESS_ISOLATED : constants.WL_F_INGRESS_ISOLATED;
    const signature = JSON.stringify([
      table.isolated,
      [...table.entries].map(([k, v]) => [k, v.ports]),
    ]);
    const have = written.get(id);
    if (have?.signature === signature) return;
    const flags =
      (kind === 'egress'
        ? this.enrollment.flagsOf(e.cgroupDir)
        : this.enrollment.targetFlagsOf(e.podIP)) ?? 0;
    const gen = flags & genFlag ? 0 : 1; // the generation not live now
    const tag = gen ? constants.POLICY_GEN_BIT : 0;
    const keys: Decoded[] = [];
    for (const entry of table.entries.values()) {
      const ranges = Buffer.alloc(32);
      entry.ports.ranges.forEach(([lo, hi], i) => {
        ranges.writeUInt16LE(lo, i * 4);
        ranges.writeUInt16LE(hi, i * 4 + 2);
      });
      const key = {
        prefixlen: 64 + entry.bits,
        workload_id: (id | tag) >>> 0,
        protocol: PROTO[entry.protocol],
        addr: entry.addr,
      };
      map.set(key, {
        policy_id: 0,
        flags: entry.ports.all ? constants.EGRESS_F_ALL_PORTS : 0,
        count: entry.ports.ranges.length,
        ranges,
      });
      keys.push(key);
    }
    let next = (flags & ~(genFlag | isoFlag)) | (gen ? genFlag : 0);
    if (table.isolated) next |= isoFlag;
    if (kind === 'egress') this.enrollment.enrolled.set(cgroupId(e.cgroupDir), { id, flags: next });
    else {
      // One table for the workload, whichever of its addresses a peer asked for.
      for (const ip of addressesOf(e)) {
        const a = encodeAddr(ip);
        this.enrollment.targets.set(
          { addr: a.bytes, port: 0, family: a.family },
          { sock_index: sockIndex(id, ip), workload_id: id, flags: next },
        );
      }
    }
    // The other hook learns of the isolation too, only to know which UDP
    // exchanges to remember (so their answers pass): a moment's lag costs an answer at most.
    if (kind === 'egress') this.enrollment.setTargetFlag(id, e.podIP, isoFlag, table.isolated);
    else this.enrollment.setFlag(id, e.cgroupDir, isoFlag, table.isolated);
    for (const key of have?.keys ?? []) map.delete(key);
    written.set(id, { signature, keys });
  }

  /**
   * What the installed tables say about one connection (for `weft policy trace --live`):
   * whether the workload is isolated in that direction, and whether the live
   * generation's longest matching entry allows the port.
   */
  lookupPeer(
    kind: 'egress' | 'ingress',
    id: number,
    e: EnrolledEntry,
    peerIP: string,
    port: number,
    protocol: PeerProtocol = 'TCP',
  ): { isolated: boolean; allowed: boolean; ports?: string } {
    const flags =
      (kind === 'egress'
        ? this.enrollment.flagsOf(e.cgroupDir)
        : this.enrollment.targetFlagsOf(e.podIP)) ?? 0;
    const iso =
      kind === 'egress' ? constants.WL_F_EGRESS_ISOLATED : constants.WL_F_INGRESS_ISOLATED;
    const gen = kind === 'egress' ? constants.WL_F_EGRESS_GEN : constants.WL_F_INGRESS_GEN;
    if (!(flags & iso)) return { isolated: false, allowed: true };
    const key = {
      prefixlen: 64 + 128,
      workload_id: ((flags & gen ? constants.POLICY_GEN_BIT : 0) | id) >>> 0,
      protocol: PROTO[protocol],
      addr: addr16(peerIP),
    };
    const v = (kind === 'egress' ? this.egressAllow : this.ingressAllow).get(key);
    if (!v) return { isolated: true, allowed: false, ports: 'no entry' };
    if ((v.flags as number) & constants.EGRESS_F_ALL_PORTS)
      return { isolated: true, allowed: true, ports: 'all ports' };
    const ranges = v.ranges as Buffer;
    const list: string[] = [];
    let allowed = false;
    for (let i = 0; i < (v.count as number); i++) {
      const lo = ranges.readUInt16LE(i * 4);
      const hi = ranges.readUInt16LE(i * 4 + 2);
      list.push(lo === hi ? `${lo}` : `${lo}-${hi}`);
      if (port >= lo && port <= hi) allowed = true;
    }
    return { isolated: true, allowed, ports: list.length ? list.join(',') : 'none' };
  }

  /** Removes what an earlier agent left in the policy tables: entries not written by this one. */
  prunePeerTables(): void {
    for (const [map, written] of [
      [this.egressAllow, this.egressKeys],
      [this.ingressAllow, this.ingressKeys],
    ] as const) {
      const mine = new Set(
        [...written.values()].flatMap((w) =>
          w.keys.map((k) =>
            JSON.stringify([
              k.prefixlen,
              k.workload_id,
              k.protocol,
              (k.addr as Buffer).toString('hex'),
            ]),
          ),
        ),
      );
      for (const k of [...map.keys()]) {
        if (
          !mine.has(
            JSON.stringify([
              k.prefixlen,
              k.workload_id,
              k.protocol,
              (k.addr as Buffer).toString('hex'),
            ]),
          )
        )
          map.delete(k);
      }
    }
  }

  clearPeerTables(id: number): void {
    for (const key of this.egressKeys.get(id)?.keys ?? []) this.egressAllow.delete(key);
    for (const key of this.ingressKeys.get(id)?.keys ?? []) this.ingressAllow.delete(key);
    this.egressKeys.delete(id);
    this.ingressKeys.delete(id);
  }

  close(): void {
    this.egressAllow.close();
    this.ingressAllow.close();
  }
}
