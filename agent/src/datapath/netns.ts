// Listening inside another network namespace: the addon creates the socket
// there (on a thread of its own) and Node serves it like any other.
import { createServer, type Server, Socket } from 'node:net';
import { type NetnsSocketOptions, native } from './native.ts';

export function netnsSocket(netnsPath: string, opts: NetnsSocketOptions): number {
  return native().netnsSocket(netnsPath, opts);
}

export interface NetnsListenOptions {
  address: string;
  port: number;
  family?: 4 | 6;
  backlog?: number;
  reusePort?: boolean;
}

/** A TCP server whose listening socket lives in netnsPath. Resolves once listening. */
export function listenInNetns(
  netnsPath: string,
  opts: NetnsListenOptions,
  onConnection: (socket: Socket) => void,
): Promise<Server> {
  const fd = native().netnsSocket(netnsPath, {
    family: opts.family ?? 4,
    address: opts.address,
    port: opts.port,
    backlog: opts.backlog ?? 511,
    reuseAddr: true,
    reusePort: opts.reusePort ?? false,
  });
  const server = createServer(onConnection);
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      native().closeFd(fd);
      reject(err);
    });
    server.listen({ fd }, () => resolve(server));
  });
}

export interface NetnsConnectOptions {
  host: string;
  port: number;
  family?: 4 | 6;
  /** Source address to bind first (e.g. to speak from a pod's own IP). */
  localAddress?: string;
}

/** A TCP connection made from inside netnsPath: Node wraps the addon's socket and connects it. */
export function connectInNetns(netnsPath: string, opts: NetnsConnectOptions): Socket {
  const fd = native().netnsSocket(netnsPath, {
    family: opts.family ?? 4,
    ...(opts.localAddress ? { address: opts.localAddress, port: 0 } : {}),
  });
  const socket = new Socket({ fd, readable: true, writable: true });
  return socket.connect(opts.port, opts.host);
}
