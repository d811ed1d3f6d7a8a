// The agent-wide HBONE bounds on real loopback connections: pending handshakes
// per source and in all, open connections in all, streams; each place comes
// back when its connection closes or its handshake ends.
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_HBONE_LIMITS, HboneGuard } from '../../../agent/src/proxy/hbone/limits.ts';

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

/** A loopback server that runs every accepted socket through the guard. */
async function guarded(guard: HboneGuard) {
  const admitted: { raw: Socket; handshook: () => void }[] = [];
  let refused = 0;
  server = createServer((raw) => {
    const handshook = guard.admit(raw);
    if (!handshook) {
      refused++;
      raw.destroy();
      return;
    }
    admitted.push({ raw, handshook });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let opened = 0;
  const open = async (n: number, from = '127.0.0.1') => {
    opened += n;
    for (let i = 0; i < n; i++) {
      const s = connect({ port, host: '127.0.0.1', localAddress: from });
      s.on('error', () => {});
      clients.push(s);
      await once(s, 'connect');
    }
    // Until the server side has accepted them all.
    while (admitted.length + refused < opened) await new Promise((r) => setTimeout(r, 5));
  };
  return { admitted, refused: () => refused, open };
}

it('bounds pending handshakes per source and in all, and open connections in all', async () => {
  const guard = new HboneGuard({
    ...DEFAULT_HBONE_LIMITS,
    maxPendingPerSource: 3,
    maxPending: 5,
    maxConnections: 7,
  });
  const g = await guarded(guard);
  await g.open(4, '127.0.0.1');
  expect([g.admitted.length, g.refused()]).toEqual([3, 1]);
  await g.open(4, '127.0.0.2');
  expect([g.admitted.length, g.refused()]).toEqual([5, 3]); // the total bound
  // Handshakes that end free their pending places; the connections stay counted.
  for (const a of g.admitted) a.handshook();
  expect(guard.pendingNow()).toBe(0);
  await g.open(4, '127.0.0.3');
  expect([g.admitted.length, g.refused()]).toEqual([7, 5]); // the open bound
  // A closed connection frees its place.
  const first = g.admitted[0]!.raw;
  first.destroy();
  await once(first, 'close');
  await g.open(1, '127.0.0.3');
  expect(g.admitted.length).toBe(8);
  expect(guard.counters.refusedConnections).toBe(5);
});

it('bounds streams, and a finished stream frees its place', () => {
  const guard = new HboneGuard({ ...DEFAULT_HBONE_LIMITS, maxStreams: 2 });
  const a = guard.stream();
  const b = guard.stream();
  expect(a && b).toBeTruthy();
  expect(guard.stream()).toBeUndefined();
  a!();
  a!(); // once only
  expect(guard.stream()).toBeTruthy();
  expect(guard.stream()).toBeUndefined();
  expect(guard.counters.refusedStreams).toBe(2);
});
