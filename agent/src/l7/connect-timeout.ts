// connectTimeout (DestinationRule connectionPool.tcp): an upstream connection not up
// within the time is destroyed, failing what waits on it (a connect failure, counted
// against the endpoint). "Up" is the socket's connect, or the HBONE CONNECT's answer;
// a same-node hand-off is up at once.
import type { Duplex } from 'node:stream';

export function connectTimeout(d: Duplex, ms: number): void {
  const s = d as Duplex & { connecting?: boolean; sentHeaders?: unknown };
  const socket = s.connecting === true;
  const tunnel = !socket && s.sentHeaders !== undefined;
  if (!socket && !tunnel) return;
  const timer = setTimeout(() => {
    const e = new Error(`upstream connect timeout after ${ms} ms`) as NodeJS.ErrnoException;
    e.code = 'ETIMEDOUT';
    d.destroy(e);
  }, ms);
  timer.unref();
  const up = () => clearTimeout(timer);
  d.once(socket ? 'connect' : 'response', up);
  d.once('close', up);
}
