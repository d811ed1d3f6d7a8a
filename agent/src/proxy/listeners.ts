// The listeners of one enrolled workload, each inside the pod's own netns:
// 127.0.0.1:15001 (and [::1]:15001) for outbound, 127.0.0.1:15006 and
// [::1]:15006 for inbound steered by sk_lookup (one per family: sk_lookup can
// hand a connection only to a socket of its own family). Closing them stops new
// connections only; accepted ones run to their end.
import { createServer, type Server, type Socket } from 'node:net';
import { native } from '../datapath/index.ts';
import { constants } from '../tables/index.ts';

export interface ListenerAddress {
  readonly role: 'outbound' | 'inbound' | 'hbone';
  readonly address: string;
  readonly port: number;
}

/**
 * A listening socket the previous agent handed over (handover/) for this netns and
 * address, or undefined: then a new one is made. The fd becomes the caller's.
 */
export type InheritListener = (
  netnsPath: string,
  role: ListenerAddress['role'],
  address: string,
  port: number,
) => number | undefined;

/** A listening socket and where it listens, to hand to the agent that takes over. */
export interface ListeningFd extends ListenerAddress {
  readonly fd: number;
}

/**
 * Holds back accepting on handed-over sockets until the agent serves in full (certificates
 * in): until then the previous agent accepts from them alone. Fresh sockets do not wait.
 */
export class ListenGate {
  private waiting: (() => void)[] | null = [];

  when(fn: () => void): void {
    if (this.waiting) this.waiting.push(fn);
    else fn();
  }

  open(): void {
    const w = this.waiting;
    this.waiting = null;
    for (const fn of w ?? []) fn();
  }
}

async function serveFd(
  fd: number,
  onConnection: (s: Socket) => void,
  gate?: ListenGate,
): Promise<Server> {
  // A listener made here has TCP_NODELAY, which its accepted sockets inherit: no system
  // call per connection. One handed over by an older agent may not: Node sets it on each.
  const server = createServer({ allowHalfOpen: true, noDelay: gate !== undefined }, onConnection);
  if (gate) {
    gate.when(() => {
      const ignore = () => {}; // a socket that was listening already: nothing to report
      server.once('error', ignore);
      server.listen({ fd, backlog: 4096 }, () => server.off('error', ignore));
    });
    return server;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export class WorkloadListeners {
  readonly addresses: ListenerAddress[] = [];
  /** fds of the inbound listeners, for the sk_lookup socket map (-1: none). */
  inboundFd = -1;
  inboundFd6 = -1;
  /** Every listening fd (outbound and inbound), for a handover. */
  readonly fds: ListeningFd[] = [];
  private readonly servers: Server[] = [];

  /** Listens on address:port inside the netns; returns the listening fd. */
  private async listen(
    netnsPath: string,
    role: ListenerAddress['role'],
    address: string,
    port: number,
    onConnection: (s: Socket) => void,
    inherit?: InheritListener,
    gate?: ListenGate,
  ): Promise<number> {
    const family = address.includes(':') ? 6 : 4;
    const inherited = inherit?.(netnsPath, role, address, port);
    const fd =
      inherited ??
      native().netnsSocket(netnsPath, {
        family,
        address,
        port,
        backlog: 1024,
        reuseAddr: true,
        v6only: family === 6,
        noDelay: true,
      });
    try {
      this.servers.push(
        await serveFd(fd, onConnection, inherited === undefined ? undefined : gate),
      );
    } catch (e) {
      native().closeFd(fd);
      throw e;
    }
    this.addresses.push({ role, address, port });
    this.fds.push({ role, address, port, fd });
    return fd;
  }

  static async open(
    netnsPath: string,
    onOutbound: (s: Socket) => void,
    onInbound: (s: Socket) => void,
    inherit?: InheritListener,
    gate?: ListenGate,
  ): Promise<WorkloadListeners> {
    const l = new WorkloadListeners();
    try {
      await l.listen(
        netnsPath,
        'outbound',
        '127.0.0.1',
        constants.PORT_OUTBOUND,
        onOutbound,
        inherit,
        gate,
      );
      l.inboundFd = await l.listen(
        netnsPath,
        'inbound',
        '127.0.0.1',
        constants.PORT_INBOUND,
        onInbound,
        inherit,
        gate,
      );
      try {
        await l.listen(
          netnsPath,
          'outbound',
          '::1',
          constants.PORT_OUTBOUND,
          onOutbound,
          inherit,
          gate,
        );
        l.inboundFd6 = await l.listen(
          netnsPath,
          'inbound',
          '::1',
          constants.PORT_INBOUND,
          onInbound,
          inherit,
          gate,
        );
      } catch (e) {
        // A pod without IPv6 has no ::1; IPv4 serves it (and an IPv6 address it
        // somehow has is refused by sk_lookup, never let past). Anything else is a real failure.
        const code = (e as { code?: string }).code;
        if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') throw e;
      }
    } catch (e) {
      l.close();
      throw e;
    }
    return l;
  }

  close(): void {
    for (const s of this.servers) s.close();
    this.servers.length = 0;
    this.fds.length = 0;
    this.inboundFd = -1;
    this.inboundFd6 = -1;
  }
}
