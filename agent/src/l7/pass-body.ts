// An answer's body passed to the client chunk by chunk, counted for telemetry,
// with back-pressure: the source pauses while the client's side is full. The
// drain listener is added only when the side fills (most answers never do),
// rather than once per request.
import type { Readable, Writable } from 'node:stream';

export interface Counted {
  responseBytes: number;
}

export function passBody(from: Readable, to: Writable, ex: Counted): void {
  let full = false;
  const drained = () => {
    full = false;
    from.resume();
  };
  from.on('data', (c: Buffer) => {
    ex.responseBytes += c.length;
    if (to.write(c) || full) return;
    full = true;
    from.pause();
    to.once('drain', drained);
  });
}
