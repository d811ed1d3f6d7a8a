// Dialing from inside a pod's netns. The socket is made there by the addon (so
// its source address is the pod's) and belongs to the agent's cgroup, so the
// connect hooks leave it alone.
import { Socket } from 'node:net';
import { native } from '../datapath/native.ts';

/** The source address the inbound side speaks to the app from; sk_lookup never steers it. */
export const INBOUND_SOURCE = '127.0.0.6';

export function dialFromNetns(
  netnsPath: string,
  host: string,
  port: number,
  bindAddress?: string,
): Socket {
  const family = host.includes(':') ? 6 : 4;
  const fd = native().netnsSocket(netnsPath, {
    family,
    ...(bindAddress ? { address: bindAddress, port: 0 } : {}),
  });
  const s = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  return s.connect(port, host);
}
