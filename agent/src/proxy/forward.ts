// Dialing from inside a pod's netns. The socket is made there (so its source
// address is the pod's) and belongs to the agent's cgroup, so the connect
// hooks leave it alone. Sockets come from a pool: see socket-pool.ts.
import { Socket } from 'node:net';
import { native } from '../datapath/index.ts';
import { bornAbortive } from './pipe.ts';
import type { SocketPool } from './socket-pool.ts';

/** The source address the inbound side speaks to the app from; sk_lookup never steers it. */
export const INBOUND_SOURCE = '127.0.0.6';
/**
 * The same for an IPv6 destination. IPv6 has one loopback address, and a
 * pod's netns is not ours to add addresses to, so it is ::1: sk_lookup passes
 * loopback sources, which no outside peer can have.
 */
export const INBOUND_SOURCE6 = '::1';

/**
 * Every inbound path (plaintext, HBONE, same-node hand-off, L7) reaches the app
 * at its original address through here, from the loopback source of that
 * address's family, with SO_LINGER {1,0} from its birth: a join (pipe.ts) or the L7
 * path (resetWhileBusy) would arm it at once.
 */
export function dialApp(pool: SocketPool, netnsPath: string, host: string, port: number): Socket {
  return dialFromNetns(
    pool,
    netnsPath,
    host,
    port,
    host.includes(':') ? INBOUND_SOURCE6 : INBOUND_SOURCE,
    true,
  );
}

export function dialFromNetns(
  pool: SocketPool,
  netnsPath: string,
  host: string,
  port: number,
  bindAddress?: string,
  /** For a join (pipe.ts): the socket comes with SO_LINGER {1,0} already armed. */
  joined = false,
): Socket {
  // TCP_NODELAY comes with the pool's socket.
  const fd = pool.take(netnsPath, host.includes(':') ? 6 : 4, bindAddress, joined);
  let s: Socket | undefined;
  try {
    s = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    if (joined) bornAbortive(s);
    return s.connect(port, host);
  } catch (e) {
    // Whoever owns the fd by now closes it: the Socket once made, else us.
    if (s) s.destroy();
    else native().closeFd(fd);
    throw e;
  }
}
