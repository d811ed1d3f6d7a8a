// The listeners of one enrolled workload, each inside the pod's own netns:
// 127.0.0.1:15001 (and [::1]:15001) for outbound, 127.0.0.1:15006 for inbound
// steered by sk_lookup. Closing them stops new connections only; accepted ones
// run to their end.
import { createServer, type Server, type Socket } from 'node:net';
import { constants } from '../datapath/layout.ts';
import { native } from '../datapath/native.ts';

export interface ListenerAddress {
  readonly role: 'outbound' | 'inbound' | 'hbone';
  readonly address: string;
  readonly port: number;
}

async function serveFd(fd: number, onConnection: (s: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
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
  /** fd of the inbound listener, for the sk_lookup socket map. */
  inboundFd = -1;
  private readonly servers: Server[] = [];

  static async open(
    netnsPath: string,
    onOutbound: (s: Socket) => void,
    onInbound: (s: Socket) => void,
  ): Promise<WorkloadListeners> {
    const l = new WorkloadListeners();
    const n = native();
    try {
      const out4 = n.netnsSocket(netnsPath, {
        address: '127.0.0.1',
        port: constants.PORT_OUTBOUND,
        backlog: 1024,
        reuseAddr: true,
      });
      l.servers.push(await serveFd(out4, onOutbound));
      l.addresses.push({ role: 'outbound', address: '127.0.0.1', port: constants.PORT_OUTBOUND });
      try {
        const out6 = n.netnsSocket(netnsPath, {
          family: 6,
          address: '::1',
          port: constants.PORT_OUTBOUND,
          backlog: 1024,
          reuseAddr: true,
          v6only: true,
        });
        l.servers.push(await serveFd(out6, onOutbound));
        l.addresses.push({ role: 'outbound', address: '::1', port: constants.PORT_OUTBOUND });
      } catch {
        // A pod without IPv6 has no ::1; IPv4 serves it.
      }
      const in4 = n.netnsSocket(netnsPath, {
        address: '127.0.0.1',
        port: constants.PORT_INBOUND,
        backlog: 1024,
        reuseAddr: true,
      });
      l.servers.push(await serveFd(in4, onInbound));
      l.inboundFd = in4;
      l.addresses.push({ role: 'inbound', address: '127.0.0.1', port: constants.PORT_INBOUND });
    } catch (e) {
      l.close();
      throw e;
    }
    return l;
  }

  close(): void {
    for (const s of this.servers) s.close();
    this.servers.length = 0;
    this.inboundFd = -1;
  }
}
