// The datapath of one node: the programs attached at the agent's cgroup root,
// sk_lookup per enrolled pod netns, and the tables they read. Everything is
// pinned under the pin root, so a restarted agent picks it all up again: maps
// keep their entries and links keep their programs attached (and are updated
// to the new agent's programs in one step). One face over the files that do
// each job: pins.ts (objects, links, layout), enrollment.ts (workload entries),
// peer-tables.ts (NetworkPolicy LPM tables), mesh-peers.ts.
import type { PeerProtocol, PeerTable } from '../tables/index.ts';
import type { Decoded } from './codec.ts';
import { type EnrolledEntry, Enrollment } from './enrollment.ts';
import type { EventStream } from './events.ts';
import type { BpfMap } from './map.ts';
import { MeshPeers } from './mesh-peers.ts';
import { PeerTables } from './peer-tables.ts';
import { type NodeDatapathOptions, PinnedObjects } from './pins.ts';

export { type EnrolledEntry, INBOUND_V6_SLOT, sockIndex } from './enrollment.ts';
export type { NodeDatapathOptions } from './pins.ts';

export class NodeDatapath {
  readonly opts: NodeDatapathOptions;
  private readonly pins: PinnedObjects;
  private readonly enrollment: Enrollment;
  private readonly peerTables: PeerTables;
  private readonly meshPeers: MeshPeers;
  private readonly eventBudget: BpfMap<number, Decoded>;

  constructor(opts: NodeDatapathOptions) {
    this.opts = opts;
    this.pins = new PinnedObjects(opts);
    const o = this.pins.maps;
    this.enrollment = new Enrollment(o);
    this.peerTables = new PeerTables(o, this.enrollment);
    this.meshPeers = new MeshPeers(o);
    this.eventBudget = o.map('event_budget');
    this.pins.checkLayout();
  }

  /** Attaches (or, after a restart, re-points) the root programs. Idempotent. */
  attachRoot(): void {
    this.pins.attachRoot();
  }

  /** Workload ids already in the pinned map, by cgroup id: kept across restarts. */
  existingIds(): Map<bigint, number> {
    return this.enrollment.existingIds();
  }

  /**
   * Puts a pod in the mesh: sk_lookup on its netns, its inbound listeners (IPv4,
   * and IPv6 when the pod has it; -1 for none), every address of the pod, then
   * its cgroup. An address whose family has no listener is steered all the
   * same, to an empty slot: refused, never around the proxy.
   */
  enroll(id: number, e: EnrolledEntry, inboundFd: number, strict = false, inboundFd6 = -1): void {
    this.pins.attachSkLookup(e.netnsPath);
    this.enrollment.enroll(id, e, inboundFd, strict, inboundFd6);
  }

  /** Switches an enrolled pod between strict and permissive mTLS in place. */
  setStrict(id: number, e: EnrolledEntry, strict: boolean): void {
    this.enrollment.setStrict(id, e, strict);
  }

  /** A workload's NetworkPolicy table in the kernel made what the compiler says (peer-tables.ts). */
  setPeerTable(kind: 'egress' | 'ingress', id: number, e: EnrolledEntry, table: PeerTable): void {
    this.peerTables.setPeerTable(kind, id, e, table);
  }

  /** What the installed tables say about one connection (for `weft policy trace --live`). */
  lookupPeer(
    kind: 'egress' | 'ingress',
    id: number,
    e: EnrolledEntry,
    peerIP: string,
    port: number,
    protocol: PeerProtocol = 'TCP',
  ): { isolated: boolean; allowed: boolean; ports?: string } {
    return this.peerTables.lookupPeer(kind, id, e, peerIP, port, protocol);
  }

  /** The addresses of every mesh pod in the cluster (mesh-peers.ts). */
  setMeshPeers(ips: Iterable<string>): void {
    this.meshPeers.setMeshPeers(ips);
  }

  /** Datagram refusal events the kernel left out (over its per-second limit) since the maps were made. */
  suppressedEvents(): number {
    return (this.eventBudget.get(0)?.suppressed as number | undefined) ?? 0;
  }

  /** Removes what an earlier agent left in the policy tables: entries not written by this one. */
  prunePeerTables(): void {
    this.peerTables.prunePeerTables();
  }

  /** Takes a pod out: new connections go direct again; established ones are untouched. */
  unenroll(id: number, e: Partial<EnrolledEntry>): void {
    this.peerTables.clearPeerTables(id);
    this.enrollment.unenroll(id, e);
    this.pins.unpinSkLookup(e.netnsPath);
  }

  /** Registers a workload's inbound listeners (-1: none of that family). */
  setInbound(id: number, inboundFd: number, inboundFd6 = -1): void {
    this.enrollment.setInbound(id, inboundFd, inboundFd6);
  }

  /** The original destination of a redirected connection, consumed on read. */
  takeOrig(
    workloadId: number,
    port: number,
    v6: boolean,
  ): { ip: string; port: number } | undefined {
    return this.enrollment.takeOrig(workloadId, port, v6);
  }

  events(): EventStream {
    return this.pins.events();
  }

  /** Pinned sk_lookup links whose netns is gone, left by pods deleted while no agent ran. */
  prunePods(liveNetns: Set<string>): void {
    this.pins.prunePods(liveNetns);
  }

  /** Releases this process's handles; pins (and so the datapath) stay. */
  close(): void {
    this.enrollment.close();
    this.meshPeers.close();
    this.eventBudget.close();
    this.peerTables.close();
    this.pins.close();
  }
}
