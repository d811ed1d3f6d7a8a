// Spare sockets per pod netns. Making a socket inside another netns takes a
// thread that enters it (tens of µs); a connection should not wait for that.
// Sockets are made in batches, one thread per batch, and topped up after the
// connection that drew one is on its way.
import { type NetnsSocketOptions, native } from '../datapath/index.ts';

const BATCH = 32;

export class SocketPool {
  private readonly spares = new Map<string, number[]>();
  private readonly specs = new Map<string, { netns: string; opts: NetnsSocketOptions }>();
  private readonly low = new Set<string>();
  private refillQueued = false;

  /**
   * An unconnected TCP socket in netns (bound to bindAddress, port chosen at connect), with
   * TCP_NODELAY set, and SO_LINGER {1,0} when `abortive` (a socket a join will own: it
   * would arm it at once). Set here, by the thread that makes a batch, they cost the
   * connection no system call.
   */
  take(netns: string, family: 4 | 6, bindAddress?: string, abortive = false): number {
    const key = `${netns}|${family}|${bindAddress ?? ''}|${abortive ? 'a' : ''}`;
    let list = this.spares.get(key);
    if (!list || list.length === 0) {
      const opts: NetnsSocketOptions = bindAddress
        ? { family, address: bindAddress, port: 0, bindNoPort: true, noDelay: true, abortive }
        : { family, noDelay: true, abortive };
      this.specs.set(key, { netns, opts });
      list = native().netnsSockets(netns, opts, BATCH);
      this.spares.set(key, list);
    }
    const fd = list.pop()!;
    if (list.length < BATCH / 4) this.queueRefill(key);
    return fd;
  }

  private queueRefill(key: string): void {
    this.low.add(key);
    if (this.refillQueued) return;
    this.refillQueued = true;
    setImmediate(() => {
      this.refillQueued = false;
      for (const k of this.low) {
        const spec = this.specs.get(k);
        const list = this.spares.get(k);
        if (!spec || !list) continue;
        try {
          list.push(...native().netnsSockets(spec.netns, spec.opts, BATCH - list.length));
        } catch {
          // The netns went away; take() will say so if it is asked again.
        }
      }
      this.low.clear();
    });
  }

  /** Closes the spares of a netns (its pod left the mesh). */
  drop(netns: string): void {
    for (const [k, list] of this.spares) {
      if (!k.startsWith(`${netns}|`)) continue;
      for (const fd of list) native().closeFd(fd);
      this.spares.delete(k);
      this.specs.delete(k);
    }
  }

  close(): void {
    for (const list of this.spares.values()) for (const fd of list) native().closeFd(fd);
    this.spares.clear();
    this.specs.clear();
  }
}
