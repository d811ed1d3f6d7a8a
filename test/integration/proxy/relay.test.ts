// The kernel relay (native/src/relay.cc through proxy/relay.ts) between real TCP
// sockets on loopback: a proxy in this process accepts, dials the server and joins
// the two; the bytes, ends and resets must come out as join() in pipe.ts makes them.
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import type { Counts } from '../../../agent/src/proxy/pipe.ts';
import {
  joinSockets,
  kernelRelays,
  relayEverything,
  setRelayAfter,
} from '../../../agent/src/proxy/relay.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { describePrivileged } from '../../support/privileged.ts';

interface Rig {
  port: number;
  stats: DirectionStats;
  done: Promise<{ reset: boolean; counts: Counts }>;
  /** Resolves when the relay is over; every connection here must have been the kernel's. */
  servers: Server[];
}

/** A threshold for the tests of a deferred hand-off (WEFT_KERNEL_RELAY_AFTER). */
const AFTER = 64 * 1024;

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(s: Server): Promise<number> {
  open.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/**
 * A server with `onConn`, and a proxy in front of it that joins with joinSockets, moving
 * each join to the kernel after `after` bytes (0: as soon as it is quiet); `relayed`: whether
 * it must have been the kernel's by its end.
 */
async function rig(onConn: (s: Socket) => void, after = 0, relayed = true): Promise<Rig> {
  setRelayAfter(after);
  const before = kernelRelays();
  const serverPort = await listen(createServer({ allowHalfOpen: true }, onConn));
  const stats = new DirectionStats();
  let finish!: (v: { reset: boolean; counts: Counts; relayed: number }) => void;
  const over = new Promise<{ reset: boolean; counts: Counts; relayed: number }>((r) => {
    finish = r;
  });
  // Carried by the kernel, not by join(): else these tests would prove nothing of the relay.
  const done = over.then(({ relayed: n, ...rest }) => {
    expect(n).toBe(relayed ? 1 : 0);
    return rest;
  });
  const proxyPort = await listen(
    createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      const up = connect({ port: serverPort, host: '127.0.0.1', allowHalfOpen: true });
      stats.active++;
      joinSockets(client, up, stats, (reset, counts) =>
        finish({ reset, counts, relayed: kernelRelays() - before }),
      );
    }),
  );
  return { port: proxyPort, stats, done, servers: open };
}

const pattern = (n: number, seed: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function collect(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

describePrivileged('kernel relay', () => {
  it('carries 8 MiB each way at once, byte for byte, and counts them', async () => {
    const down = pattern(8 << 20, 3);
    let serverGot: Promise<Buffer> | undefined;
    const r = await rig((s) => {
      serverGot = collect(s);
      s.end(down);
    });
    const up = pattern(8 << 20, 7);
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const clientGot = collect(c);
    c.end(up);
    expect(sha(await clientGot)).toBe(sha(down));
    expect(sha((await serverGot)!)).toBe(sha(up));
    c.destroy();
    const d = await r.done;
    expect(d).toEqual({ reset: false, counts: { fromClient: up.length, toClient: down.length } });
    expect(r.stats).toMatchObject({ active: 0, reset: 0, bytesFromClient: up.length });
  });

  it('keeps a half-closed connection flowing the other way', async () => {
    const r = await rig((s) => {
      s.on('end', () => {
        // The client is done sending; the answer comes after, in two parts.
        s.write('late ');
        setTimeout(() => s.end('answer'), 50);
      });
      s.resume();
    });
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const got = collect(c);
    c.write('question');
    await new Promise((res) => setTimeout(res, 100));
    c.end();
    expect((await got).toString()).toBe('late answer');
    c.destroy();
    expect((await r.done).reset).toBe(false);
  });

  it('passes a reset on', async () => {
    const r = await rig((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const err = new Promise<string>((resolve) => {
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
      c.on('end', () => resolve('clean end'));
    });
    c.on('data', () => {});
    // Sent after the hand-over to the kernel, which happens once the connection is quiet.
    setTimeout(() => c.write('x'), 50);
    expect(await err).toBe('ECONNRESET');
    const d = await r.done;
    expect(d.reset).toBe(true);
    expect(r.stats.reset).toBe(1);
  });

  it('holds a writer back while its reader does not read, and loses nothing', async () => {
    let release!: () => void;
    const reading = new Promise<void>((r) => {
      release = r;
    });
    let serverGot: Promise<Buffer> | undefined;
    const r = await rig((s) => {
      s.pause();
      void reading.then(() => {
        serverGot = collect(s);
        // Done reading: its end closes the relay's other direction.
        void serverGot.then(() => s.end());
        s.resume();
      });
    });
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    c.on('data', () => {});
    // More than every buffer on the way can hold (socket buffers grow to tcp_rmem's 32 MiB here).
    const big = Buffer.alloc(128 << 20, 'weft relay ');
    const flushed = new Promise<boolean>((resolve) => c.write(big, () => resolve(true)));
    // With the server not reading, it cannot all have left the client after a while.
    const early = await Promise.race([
      flushed,
      new Promise((r2) => setTimeout(() => r2(false), 500)),
    ]);
    expect(early).toBe(false);
    expect(c.writableLength).toBeGreaterThan(0);
    release();
    c.end();
    await new Promise((res) => setTimeout(res, 0));
    expect(sha(await serverGot!)).toBe(sha(big));
    c.destroy();
    expect((await r.done).counts.fromClient).toBe(big.length);
  });

  it('keeps a short connection in JavaScript, its bytes, end and counts as the relay has them', async () => {
    const r = await rig((s) => s.pipe(s), AFTER, false);
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const got = collect(c);
    c.write('x');
    await new Promise((res) => c.once('data', res));
    c.end();
    expect((await got).toString()).toBe('x');
    c.destroy();
    expect(await r.done).toEqual({ reset: false, counts: { fromClient: 1, toClient: 1 } });
  });

  it('moves a connection to the kernel once it has carried the threshold', async () => {
    const r = await rig((s) => s.pipe(s), AFTER, true);
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const got = collect(c);
    const up = pattern(4 * AFTER, 5);
    // The first part crosses JavaScript; the rest, after a pause, the kernel.
    c.write(up.subarray(0, AFTER + 1));
    await new Promise((res) => setTimeout(res, 100));
    c.end(up.subarray(AFTER + 1));
    expect(sha(await got)).toBe(sha(up));
    c.destroy();
    expect(await r.done).toEqual({
      reset: false,
      counts: { fromClient: up.length, toClient: up.length },
    });
  });

  it('moves a short connection to the kernel when the agent hands over (relayEverything)', async () => {
    const r = await rig((s) => s.pipe(s), AFTER, true);
    const c = connect({ port: r.port, host: '127.0.0.1', allowHalfOpen: true });
    const got = collect(c);
    c.write('before ');
    await new Promise((res) => c.once('data', res));
    relayEverything();
    await new Promise((res) => setTimeout(res, 50));
    c.end('after');
    expect((await got).toString()).toBe('before after');
    c.destroy();
    expect((await r.done).counts).toEqual({ fromClient: 12, toClient: 12 });
  });

  it('passes on an end that came before any byte and before upstream connected', async () => {
    // Node emits the client's 'end' at its FIN though nothing reads it: the proxy dials
    // only then, so the join finds the end already past; the server answers once it has it.
    setRelayAfter(0);
    const serverPort = await listen(
      createServer({ allowHalfOpen: true }, (s) => {
        s.on('end', () => s.end('bye')).resume();
      }),
    );
    let done!: (v: { reset: boolean; counts: Counts }) => void;
    const over = new Promise<{ reset: boolean; counts: Counts }>((r) => {
      done = r;
    });
    const proxyPort = await listen(
      createServer({ allowHalfOpen: true }, (client) => {
        client.once('end', () => {
          const up = connect({ port: serverPort, host: '127.0.0.1', allowHalfOpen: true });
          joinSockets(client, up, null, (reset, counts) => done({ reset, counts }));
        });
      }),
    );
    const c = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
    const got = collect(c);
    c.end();
    expect((await got).toString()).toBe('bye');
    c.destroy();
    expect(await over).toEqual({ reset: false, counts: { fromClient: 0, toClient: 3 } });
  });

  it('holds no pipe for a relayed connection with no bytes in flight', async () => {
    const pipes = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:');
        } catch {
          return false; // closed while listed
        }
      }).length;
    setRelayAfter(0);
    const serverPort = await listen(createServer((s) => s.pipe(s)));
    const proxyPort = await listen(
      createServer({ noDelay: true }, (client) => {
        const up = connect({ port: serverPort, host: '127.0.0.1' });
        joinSockets(client, up, null, () => {});
      }),
    );
    const before = pipes();
    const relayed = kernelRelays();
    const conns: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const c = connect({ port: proxyPort, host: '127.0.0.1' });
      conns.push(c);
      await new Promise((res) => c.once('connect', res));
      // Into the kernel relay once quiet; then one round trip through it.
      await new Promise((res) => setTimeout(res, 20));
      c.write('x');
      await new Promise((res) => c.once('data', res));
    }
    expect(kernelRelays() - relayed).toBe(20);
    // 20 idle connections: at most a few spare pipes between them, not two each.
    expect(pipes() - before).toBeLessThanOrEqual(4);
    for (const c of conns) c.destroy();
  });

  /**
   * A client through a proxy to port that joins at once (abort: revoked before upstream
   * connected): what the client saw, and the join's end.
   */
  async function earlyEnd(port: number, abort: boolean) {
    setRelayAfter(0);
    let done!: (v: { reset: boolean; counts: Counts }) => void;
    const over = new Promise<{ reset: boolean; counts: Counts }>((r) => {
      done = r;
    });
    const proxyPort = await listen(
      createServer((client) => {
        const up = connect({ port, host: '127.0.0.1' });
        const j = joinSockets(client, up, null, (reset, counts) => done({ reset, counts }));
        if (abort) j.abort();
      }),
    );
    const c = connect({ port: proxyPort, host: '127.0.0.1' });
    const seen = await new Promise<string>((resolve) => {
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
      c.on('end', () => resolve('clean end'));
    });
    return { seen, end: await over };
  }

  it('resets the client when upstream refuses, before any join is made', async () => {
    const closed = await listen(createServer());
    await new Promise((r) => open.pop()!.close(r)); // nothing listens there now
    expect(await earlyEnd(closed, false)).toEqual({
      seen: 'ECONNRESET',
      end: { reset: true, counts: { fromClient: 0, toClient: 0 } },
    });
  });

  it('resets a connection revoked before upstream connected', async () => {
    const serverPort = await listen(createServer((s) => s.on('error', () => {}).resume()));
    expect(await earlyEnd(serverPort, true)).toEqual({
      seen: 'ECONNRESET',
      end: { reset: true, counts: { fromClient: 0, toClient: 0 } },
    });
  });
});
