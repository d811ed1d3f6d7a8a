// Passing fds between processes (native/src/fdpass.cc) and moving relayed connections
// (relayExport/relayImport in native/src/relay.cc): what an agent hands to the one that
// takes over. A listening socket passed on keeps its accept queue; a relayed connection
// moved mid-conversation loses and reorders no byte.
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { native } from '../../../agent/src/datapath/native.ts';
import {
  adoptRelay,
  exportRelays,
  joinSockets,
  relayEverything,
} from '../../../agent/src/proxy/relay.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { describePrivileged } from '../../support/privileged.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-fdpass-'));
const servers: Server[] = [];
const fds: number[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const fd of fds) {
    try {
      native().closeFd(fd);
    } catch {
      // closed already
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function recv(fd: number): Promise<{ data: Buffer; fds: number[] }> {
  for (let i = 0; i < 200; i++) {
    const m = native().fdRecv(fd);
    if (m) return m;
    await sleep(5);
  }
  throw new Error('no message');
}

/** A connected pair: [listener side, connecting side]. */
function pair(name: string): [number, number] {
  const l = native().fdListen(join(dir, name));
  fds.push(l);
  const c = native().fdConnect(join(dir, name));
  fds.push(c);
  const a = native().fdAccept(l);
  if (!a) throw new Error('nothing to accept');
  fds.push(a.fd);
  expect(a.uid).toBe(process.getuid!());
  expect(a.pid).toBe(process.pid);
  return [a.fd, c];
}

function listen(s: Server, opts: { port?: number; fd?: number }): Promise<number> {
  servers.push(s);
  return new Promise((resolve) =>
    s.listen(opts.fd !== undefined ? { fd: opts.fd } : { port: 0, host: '127.0.0.1' }, () =>
      resolve((s.address() as AddressInfo).port),
    ),
  );
}

describePrivileged('fd passing (SCM_RIGHTS) and relay moves', () => {
  it('passes a listening socket: its accept queue moves with it', async () => {
    const [old, fresh] = pair('a.sock');
    const lfd = native().netnsSocket('/proc/self/ns/net', {
      address: '127.0.0.1',
      port: 0,
      backlog: 16,
    });
    fds.push(lfd);
    const first = createServer((s) => s.end('first'));
    const realPort = await listen(first, { fd: lfd });
    expect(native().fdSend(old, Buffer.from('{"t":"listeners"}'), [lfd])).toBe(true);
    const m = await recv(fresh);
    expect(m.data.toString()).toBe('{"t":"listeners"}');
    expect(m.fds).toHaveLength(1);
    fds.push(m.fds[0]!);
    // The old side stops accepting; a connection waiting in the backlog meanwhile is
    // accepted by the new side: the queue is the socket's, not the process's.
    await new Promise((r) => first.close(r));
    servers.splice(servers.indexOf(first), 1);
    const waiting = connect({ port: realPort, host: '127.0.0.1' });
    const got = new Promise<string>((resolve) => {
      let s = '';
      waiting.on('data', (d) => {
        s += d;
      });
      waiting.on('end', () => resolve(s));
    });
    await new Promise((r) => waiting.once('connect', r));
    const second = createServer((s) => s.end('second'));
    expect(await listen(second, { fd: m.fds[0]! })).toBe(realPort);
    expect(await got).toBe('second');
  });

  it('refuses more fds than a message carries, and says so at EOF', async () => {
    const [old, fresh] = pair('b.sock');
    const many = Array.from({ length: native().fdMaxPerMessage + 1 }, () => old);
    expect(() => native().fdSend(old, Buffer.from('x'), many)).toThrow(/at most 64 per message/);
    expect(() => native().fdSend(old, Buffer.alloc(0), [])).toThrow(/EMSGSIZE|bytes/);
    expect(native().fdRecv(fresh)).toBeNull();
    native().closeFd(old);
    fds.splice(fds.indexOf(old), 1);
    expect((await recv(fresh)).data.length).toBe(0);
  });

  it('names the direction of a moved connection whose record keeps its counters', async () => {
    // Its sockets are reset when the moved fds close here.
    const echo = createServer({ allowHalfOpen: true }, (s) => s.on('error', () => {}).pipe(s));
    const echoPort = await listen(echo, {});
    const counters = new DirectionStats();
    let movedAway = 0;
    const proxy = createServer({ allowHalfOpen: true }, (client) => {
      const up = connect({ port: echoPort, host: '127.0.0.1', allowHalfOpen: true });
      joinSockets(
        client,
        up,
        null,
        () => {},
        () => movedAway++,
        counters,
      );
    });
    const proxyPort = await listen(proxy, {});
    const c: Socket = connect({ port: proxyPort, host: '127.0.0.1' });
    c.on('data', () => {});
    c.on('error', () => {});
    await new Promise((r) => c.once('connect', r));
    for (let i = 0; i < 20; i++) {
      c.write(`message ${i}\n`);
      await sleep(5);
    }
    // A short connection reaches the relay when a handover starts (drain.ts).
    relayEverything();
    await sleep(20);
    const moved = exportRelays();
    expect(moved).toHaveLength(1);
    expect(moved[0]!.stats).toBe(counters);
    expect(movedAway).toBe(1);
    const m = moved[0]!.relay;
    for (const fd of [m.a, m.b, m.ab.pipeRead, m.ab.pipeWrite, m.ba.pipeRead, m.ba.pipeWrite])
      native().closeFd(fd);
    c.destroy();
    proxy.close();
    echo.close();
  });

  it('moves a relayed connection mid-conversation: every byte, in order', async () => {
    // An echo server behind a proxy that joins with the kernel relay.
    const echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    const echoPort = await listen(echo, {});
    const stats = new DirectionStats();
    const proxy = createServer({ allowHalfOpen: true }, (client) => {
      const up = connect({ port: echoPort, host: '127.0.0.1', allowHalfOpen: true });
      stats.active++;
      joinSockets(client, up, stats, () => {});
    });
    const proxyPort = await listen(proxy, {});
    const c: Socket = connect({ port: proxyPort, host: '127.0.0.1' });
    let got = '';
    c.on('data', (d) => {
      got += d;
    });
    const resets: Error[] = [];
    c.on('error', (e) => resets.push(e));
    await new Promise((r) => c.once('connect', r));
    const sent: string[] = [];
    const say = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const line = `message ${sent.length}\n`;
        sent.push(line);
        c.write(line);
        await sleep(5);
      }
    };
    await say(20);
    relayEverything();
    await sleep(20);
    // Out of this relay (as the old agent does), and sent through a handover socket.
    const moved = exportRelays();
    expect(moved).toHaveLength(1);
    expect(stats.active).toBe(0);
    c.write('while moving\n');
    sent.push('while moving\n');
    const [old, fresh] = pair('c.sock');
    const m = moved[0]!.relay;
    expect(moved[0]!.stats).toBe(stats);
    const list = [m.a, m.b, m.ab.pipeRead, m.ab.pipeWrite, m.ba.pipeRead, m.ba.pipeWrite];
    expect(native().fdSend(old, Buffer.from(JSON.stringify(m)), list)).toBe(true);
    for (const fd of list) native().closeFd(fd);
    const r = await recv(fresh);
    const state = JSON.parse(r.data.toString());
    const [a, b, abR, abW, baR, baW] = r.fds as [number, number, number, number, number, number];
    const adopted = new DirectionStats();
    expect(
      adoptRelay(
        {
          ...state,
          a,
          b,
          ab: { ...state.ab, pipeRead: abR, pipeWrite: abW },
          ba: { ...state.ba, pipeRead: baR, pipeWrite: baW },
        },
        adopted,
      ),
    ).toBe(true);
    expect(adopted.active).toBe(1);
    await say(20);
    for (let i = 0; i < 100 && got.length < sent.join('').length; i++) await sleep(10);
    expect(got).toBe(sent.join(''));
    c.end();
    for (let i = 0; i < 100 && adopted.active > 0; i++) await sleep(10);
    expect(adopted.active).toBe(0);
    expect(adopted.reset).toBe(0);
    expect(resets).toEqual([]);
  });
});
