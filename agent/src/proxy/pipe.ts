// Joining two byte streams faithfully: bytes both ways with back-pressure (a
// side whose peer cannot keep up is paused until it drains), half-close (an
// end on one side becomes an end on the other while the reverse direction
// keeps flowing), and resets (an error on one side resets the other). Works
// for TCP sockets and HTTP/2 CONNECT streams alike. Hand-written rather than
// stream.pipe: this is the per-chunk hot path.
import type { Duplex } from 'node:stream';
import type { DirectionStats } from './stats.ts';

/** How to reset one side: an RST for a socket, RST_STREAM for an HTTP/2 stream. */
export type Reset = (d: Duplex) => void;

export const resetSocket: Reset = (d) => {
  (d as import('node:net').Socket).resetAndDestroy();
};

export interface Counts {
  fromClient: number;
  toClient: number;
}

function forward(from: Duplex, to: Duplex, counts: Counts, key: keyof Counts): void {
  from.on('data', (chunk: Buffer) => {
    counts[key] += chunk.length;
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

export function join(
  client: Duplex,
  upstream: Duplex,
  stats: DirectionStats,
  resetClient: Reset = resetSocket,
  resetUpstream: Reset = resetSocket,
  onDone?: (resetSeen: boolean, counts: Counts) => void,
): void {
  let open = 2;
  let resetSeen = false;
  const done = () => {
    if (--open === 0) {
      stats.active--;
      if (resetSeen) stats.reset++;
      onDone?.(resetSeen, counts);
    }
  };
  client.on('error', () => {
    resetSeen = true;
    if (!upstream.destroyed) resetUpstream(upstream);
  });
  upstream.on('error', () => {
    resetSeen = true;
    if (!client.destroyed) resetClient(client);
  });
  client.on('close', done);
  upstream.on('close', done);
  const counts: Counts = { fromClient: 0, toClient: 0 };
  client.once('close', () => {
    stats.bytesFromClient += counts.fromClient;
    stats.bytesToClient += counts.toClient;
  });
  forward(client, upstream, counts, 'fromClient');
  forward(upstream, client, counts, 'toClient');
}
