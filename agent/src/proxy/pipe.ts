// Joining two TCP sockets faithfully: bytes both ways with back-pressure (a
// side whose peer cannot keep up is paused until it drains), half-close (a FIN
// on one side becomes a FIN on the other while the reverse direction keeps
// flowing), and resets (an RST or error on one side becomes an RST on the
// other). Hand-written rather than stream.pipe: this is the per-chunk hot path.
import type { Socket } from 'node:net';
import type { DirectionStats } from './stats.ts';

function forward(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

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
  forward(client, upstream);
  forward(upstream, client);
}
