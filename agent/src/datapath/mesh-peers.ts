// `mesh_peers`: the addresses of every mesh pod in the cluster, for strict
// mTLS over UDP (which is not tunnelled, so its source address is all there is).
import { addr16, type Decoded } from './codec.ts';
import type { BpfMap } from './map.ts';
import type { LoadedObject } from './object.ts';

export class MeshPeers {
  private readonly meshPeers: BpfMap<Decoded, number>;
  /** Addresses this agent wrote to mesh_peers (hex of the 16-byte key). */
  private meshWritten: Set<string> | null = null;

  constructor(o: LoadedObject) {
    this.meshPeers = o.map('mesh_peers');
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

  close(): void {
    this.meshPeers.close();
  }
}
