// Joining two TCP sockets faithfully: bytes both ways with back-pressure
// (stream.pipe pauses the faster side), half-close (a FIN on one side becomes
// a FIN on the other while the reverse direction keeps flowing), and resets
// (an RST or error on one side becomes an RST on the other).
import type { Socket } from 'node:net';
import type { DirectionStats } from './stats.ts';

export function join(client: Socket, upstream: Socket, stats: DirectionStats): void {
  let open = 2;
  let resetSeen = false;
  const done = () => {
    if (--open === 0) {
      stats.active--;
      stats.bytesFromClient += client.bytesRead;
      stats.bytesToClient += client.bytesWritten;
      if (resetSeen) stats.reset++;
    }
  };
  const resetOther = (other: Socket) => () => {
    resetSeen = true;
    if (!other.destroyed) other.resetAndDestroy();
  };
  client.on('error', resetOther(upstream));
  upstream.on('error', resetOther(client));
  client.on('close', done);
  upstream.on('close', done);
  client.pipe(upstream);
  upstream.pipe(client);
}
