// Watches every net.Server that starts listening on a unix socket while fn runs,
// and records, at that moment, what a client would find at `path`: nothing (or
// an old file), or a listening socket and its mode. A socket that appears at
// its path with a mode wider than it ends with was open to anyone for a while.
import { existsSync, statSync } from 'node:fs';
import { Server } from 'node:net';

export async function modesWhenListening<T>(path: string, fn: () => Promise<T>) {
  const seen: (number | null)[] = [];
  const emit = Server.prototype.emit;
  const original = emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'listening' && typeof this.address() === 'string')
      seen.push(existsSync(path) ? statSync(path).mode & 0o777 : null);
    return original.call(this, event, ...args);
  } as typeof emit;
  try {
    const result = await fn();
    return { result, seen };
  } finally {
    Server.prototype.emit = emit;
  }
}
