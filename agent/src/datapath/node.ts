// The datapath of one node: the programs attached at the agent's cgroup root,
// sk_lookup per enrolled pod netns, and the tables they read. Everything is
// pinned under the pin root, so a restarted agent picks it all up again: maps
// keep their entries and links keep their programs attached (and are updated
// to the new agent's programs in one step).
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { constants, LAYOUT_VERSION } from '../tables/layout.ts';
import type { PeerProtocol, PeerTable } from '../tables/peer-table.ts';
import { attachCgroup, attachNetns, attachSkMsg, Link } from './attach.ts';
import { type Decoded, decodeAddr, encodeAddr } from './codec.ts';
import { EventStream } from './events.ts';
import type { BpfMap } from './map.ts';
import { type KernelLinkInfo, repoRoot } from './native.ts';
import { type LoadedObject, loadObject } from './object.ts';
import { cgroupId, ensureBpffs } from './system.ts';

const OBJECTS = ['sock_connect', 'sock_ops', 'sk_lookup'] as const;
/** Programs attached once at the cgroup root. */
const ROOT_PROGRAMS: Record<string, (typeof OBJECTS)[number]> = {
  weft_connect4: 'sock_connect',
  weft_connect6: 'sock_connect',
  weft_getpeername4: 'sock_connect',
  weft_getpeername6: 'sock_connect',
  weft_sendmsg4: 'sock_connect',
  weft_sendmsg6: 'sock_connect',
  weft_sockops: 'sock_ops',
};

export interface NodeDatapathOptions {
  /** cgroup v2 directory whose subtree holds the node's pods. */
  cgroupRoot: string;
  /** bpffs directory for this node's pins. */
  pinRoot: string;
  bpfDir?: string;
  splice?: boolean;
}

const PROTO: Record<PeerProtocol, number> = {
  TCP: constants.PROTO_TCP,
  UDP: constants.PROTO_UDP,
};

/** An address as the policy maps key it: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
function addr16(ip: string): Buffer {
  const a = encodeAddr(ip);
  const out = Buffer.alloc(16);
  if (a.family === constants.AF_INET) {
    out.writeUInt16BE(0xffff, 10);
    a.bytes.copy(out, 12, 0, 4);
  } else a.bytes.copy(out);
  return out;
}

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
function addressesOf(e: Partial<EnrolledEntry>): readonly string[] {
  return e.podIPs?.length ? e.podIPs : e.podIP ? [e.podIP] : [];
}

export class NodeDatapath {
  readonly opts: NodeDatapathOptions;
  private readonly objects = new Map<string, LoadedObject>();
  private readonly enrolled: BpfMap<bigint, Decoded>;
  private readonly connOrig: BpfMap<Decoded, Decoded>;
  private readonly targets: BpfMap<Decoded, Decoded>;
  private readonly egressAllow: BpfMap<Decoded, Decoded>;
  /** Per workload id: the egress_allow keys this agent wrote, by compiler key. */
  private readonly egressKeys = new Map<number, { signature: string; keys: Decoded[] }>();
  private readonly ingressAllow: BpfMap<Decoded, Decoded>;
  private readonly ingressKeys = new Map<number, { signature: string; keys: Decoded[] }>();
  private readonly socks: BpfMap<number, bigint>;
  private readonly meshPeers: BpfMap<Decoded, number>;
  private readonly eventBudget: BpfMap<number, Decoded>;
  /** Addresses this agent wrote to mesh_peers (hex of the 16-byte key). */
  private meshWritten: Set<string> | null = null;
  private readonly meta: BpfMap<number, Decoded>;
  private readonly linkDir: string;
  private readonly origKey = { workload_id: 0, port: 0, family: 0 };

  constructor(opts: NodeDatapathOptions) {
    this.opts = opts;
    const bpfDir = opts.bpfDir ?? `${repoRoot}build/bpf`;
    ensureBpffs(opts.pinRoot);
    this.linkDir = join(opts.pinRoot, 'links');
    mkdirSync(this.linkDir, { recursive: true });
    try {
      for (const name of OBJECTS) {
        this.objects.set(name, loadObject(`${bpfDir}/${name}.bpf.o`, { pinRoot: opts.pinRoot }));
      }
    } catch (e) {
      this.closeObjects();
      throw e;
    }
    const o = this.objects.get('sock_connect')!;
    this.meta = o.map('meta');
    this.enrolled = o.map('enrolled');
    this.connOrig = o.map('conn_orig');
    this.targets = o.map('inbound_targets');
    this.egressAllow = o.map('egress_allow');
    this.ingressAllow = o.map('ingress_allow');
    this.socks = o.map('inbound_socks');
    this.meshPeers = o.map('mesh_peers');
    this.eventBudget = o.map('event_budget');
    this.checkLayout();
  }

  private checkLayout(): void {
    const m = this.meta.get(0);
    const version = m?.layout_version as number | undefined;
    if (version && version !== LAYOUT_VERSION) {
      throw new Error(
        `pinned maps under ${this.opts.pinRoot} have layout ${version}, this agent has ${LAYOUT_VERSION}; ` +
          'remove the pins (they hold enrollment only) and restart',
      );
    }
    this.meta.set(0, {
      layout_version: LAYOUT_VERSION,
      flags: this.opts.splice ? constants.META_F_SPLICE : 0,
    });
  }

  /** Attaches (or, after a restart, re-points) the root programs. Idempotent. */
  attachRoot(): void {
    for (const [prog, objName] of Object.entries(ROOT_PROGRAMS)) {
      const p = this.objects.get(objName)!.program(prog);
      try {
        const cg = cgroupId(this.opts.cgroupRoot);
        this.pinnedLink(
          prog,
          () => attachCgroup(p, this.opts.cgroupRoot),
          p,
          (i) => i.cgroupId === cg,
        );
      } finally {
        p.close();
      }
    }
    const ops = this.objects.get('sock_ops')!;
    const msg = ops.program('weft_sk_msg');
    const hash = ops.map('splice_socks');
    try {
      // Attaching again replaces the sockhash's previous verdict program.
      attachSkMsg(msg, hash);
    } finally {
      msg.close();
      hash.close();
    }
  }

  /**
   * Attaches through a pinned link: a pin left by an earlier agent is re-pointed
   * at the new program in one step, but only while it is still attached where
   * it should be (a netns inode or cgroup can be reused after its owner died);
   * otherwise it is replaced.
   */
  private pinnedLink(
    name: string,
    attach: () => Link,
    prog: { readonly fd: number },
    stillRight: (info: KernelLinkInfo) => boolean,
  ): void {
    const pin = join(this.linkDir, name);
    if (existsSync(pin)) {
      const l = Link.openPinned(pin);
      try {
        if (stillRight(l.info())) {
          l.update(prog);
          return;
        }
      } finally {
        l.close();
      }
      unlinkSync(pin);
    }
    const l = attach();
    try {
      l.pin(pin);
    } finally {
      l.close();
    }
  }

  /** Workload ids already in the pinned map, by cgroup id: kept across restarts. */
  existingIds(): Map<bigint, number> {
    return new Map(this.enrolled.entries().map(([k, v]) => [k, v.id as number]));
  }

  /**
   * Puts a pod in the mesh: sk_lookup on its netns, its inbound listeners (IPv4,
   * and IPv6 when the pod has it; -1 for none), every address of the pod, then
   * its cgroup. An address whose family has no listener is steered all the
   * same, to an empty slot: refused, never around the proxy.
   */
  enroll(id: number, e: EnrolledEntry, inboundFd: number, strict = false, inboundFd6 = -1): void {
    const prog = this.objects.get('sk_lookup')!.program('weft_sk_lookup');
    try {
      const ino = statSync(e.netnsPath).ino;
      this.pinnedLink(
        `sk_lookup-${ino}`,
        () => attachNetns(prog, e.netnsPath),
        prog,
        (i) => i.netnsIno === ino,
      );
    } finally {
      prog.close();
    }
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
  private setFlag(id: number, cgroupDir: string, flag: number, on: boolean): void {
    const cg = cgroupId(cgroupDir);
    const cur = (this.enrolled.get(cg)?.flags as number | undefined) ?? 0;
    this.enrolled.set(cg, { id, flags: on ? cur | flag : cur & ~flag });
  }

  /** A flag of the workload's sk_lookup entry (keyed by its address). */
  private setTargetFlag(id: number, podIP: string, flag: number, on: boolean): void {
    const a = encodeAddr(podIP);
    const k = { addr: a.bytes, port: 0, family: a.family };
    const cur = (this.targets.get(k)?.flags as number | undefined) ?? 0;
    this.targets.set(k, {
      sock_index: sockIndex(id, podIP),
      workload_id: id,
      flags: on ? cur | flag : cur & ~flag,
    });
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
      (kind === 'egress' ? this.flagsOf(e.cgroupDir) : this.targetFlagsOf(e.podIP)) ?? 0;
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
    if (kind === 'egress') this.enrolled.set(cgroupId(e.cgroupDir), { id, flags: next });
    else {
      // One table for the workload, whichever of its addresses a peer asked for.
      for (const ip of addressesOf(e)) {
        const a = encodeAddr(ip);
        this.targets.set(
          { addr: a.bytes, port: 0, family: a.family },
          { sock_index: sockIndex(id, ip), workload_id: id, flags: next },
        );
      }
    }
    // The other hook learns of the isolation too, only to know which UDP
    // exchanges to remember (so their answers pass): a moment's lag costs an answer at most.
    if (kind === 'egress') this.setTargetFlag(id, e.podIP, isoFlag, table.isolated);
    else this.setFlag(id, e.cgroupDir, isoFlag, table.isolated);
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
      (kind === 'egress' ? this.flagsOf(e.cgroupDir) : this.targetFlagsOf(e.podIP)) ?? 0;
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

  /**
   * The addresses of every mesh pod in the cluster: strict mTLS admits UDP
   * from these only (UDP is not tunnelled, so its source address is all there
   * is). Written as a difference against what this agent wrote before; on the
   * first call, entries an earlier agent left and no pod has now are dropped.
   */
  setMeshPeers(ips: Iterable<string>): void {
    const want = new Map<string, Buffer>();
    for (const ip of ips) {
      const a = addr16(ip);
      want.set(a.toString('hex'), a);
    }
    const have =
      this.meshWritten ??
      new Set([...this.meshPeers.keys()].map((k) => (k.addr as Buffer).toString('hex')));
    for (const [hex, a] of want) if (!have.has(hex)) this.meshPeers.set({ addr: a }, 1);
    for (const hex of have)
      if (!want.has(hex)) this.meshPeers.delete({ addr: Buffer.from(hex, 'hex') });
    this.meshWritten = new Set(want.keys());
  }

  /** Datagram refusal events the kernel left out (over its per-second limit) since the maps were made. */
  suppressedEvents(): number {
    return (this.eventBudget.get(0)?.suppressed as number | undefined) ?? 0;
  }

  private flagsOf(cgroupDir: string): number | undefined {
    return this.enrolled.get(cgroupId(cgroupDir))?.flags as number | undefined;
  }

  private targetFlagsOf(podIP: string): number | undefined {
    const a = encodeAddr(podIP);
    return this.targets.get({ addr: a.bytes, port: 0, family: a.family })?.flags as
      | number
      | undefined;
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

  private clearPeerTables(id: number): void {
    for (const key of this.egressKeys.get(id)?.keys ?? []) this.egressAllow.delete(key);
    for (const key of this.ingressKeys.get(id)?.keys ?? []) this.ingressAllow.delete(key);
    this.egressKeys.delete(id);
    this.ingressKeys.delete(id);
  }

  /** Takes a pod out: new connections go direct again; established ones are untouched. */
  unenroll(id: number, e: Partial<EnrolledEntry>): void {
    this.clearPeerTables(id);
    if (e.cgroupDir && existsSync(e.cgroupDir)) this.enrolled.delete(cgroupId(e.cgroupDir));
    for (const [k, v] of this.enrolled.entries()) if (v.id === id) this.enrolled.delete(k);
    for (const ip of addressesOf(e)) {
      const a = encodeAddr(ip);
      this.targets.delete({ addr: a.bytes, port: 0, family: a.family });
    }
    this.socks.delete(id);
    this.socks.delete(id + INBOUND_V6_SLOT);
    if (e.netnsPath && existsSync(e.netnsPath)) {
      const pin = join(this.linkDir, `sk_lookup-${statSync(e.netnsPath).ino}`);
      if (existsSync(pin)) unlinkSync(pin);
    }
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
    const v = this.connOrig.get(k);
    if (!v) return undefined;
    this.connOrig.delete(k);
    return { ip: decodeAddr(v.family as number, v.addr as Buffer), port: v.port as number };
  }

  events(): EventStream {
    return new EventStream(this.objects.get('sock_connect')!.mapFd('events'));
  }

  /** Pinned sk_lookup links whose netns is gone, left by pods deleted while no agent ran. */
  prunePods(liveNetns: Set<string>): void {
    const live = new Set(
      [...liveNetns].filter((p) => existsSync(p)).map((p) => `sk_lookup-${statSync(p).ino}`),
    );
    for (const f of readdirSync(this.linkDir)) {
      if (f.startsWith('sk_lookup-') && !live.has(f)) unlinkSync(join(this.linkDir, f));
    }
  }

  private closeObjects(): void {
    for (const o of this.objects.values()) o.close();
    this.objects.clear();
  }

  /** Releases this process's handles; pins (and so the datapath) stay. */
  close(): void {
    for (const m of [
      this.meta,
      this.enrolled,
      this.connOrig,
      this.targets,
      this.socks,
      this.meshPeers,
      this.eventBudget,
      this.egressAllow,
      this.ingressAllow,
    ])
      m.close();
    this.closeObjects();
  }
}
