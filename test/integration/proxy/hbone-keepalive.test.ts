// HBONE keepalive: a session whose peer stops answering is destroyed and its
// streams reset; a peer that answers keeps its session. The peer is a real
// HTTP/2 server in a child process over loopback TCP, frozen with SIGSTOP (its
// kernel still ACKs TCP, so only the PING can tell).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type ClientHttp2Session, connect } from 'node:http2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keepAlive } from '../../../agent/src/proxy/hbone/keepalive.ts';

const PEER = `
const h2 = require('node:http2');
const s = h2.createServer();
s.on('stream', (st) => { st.respond({ ':status': 200 }); st.on('data', () => {}); });
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

let peer: ChildProcess | undefined;
let session: ClientHttp2Session | undefined;
afterEach(() => {
  session?.destroy();
  if (peer?.pid) {
    peer.kill('SIGCONT');
    peer.kill('SIGKILL');
  }
});

async function open(intervalMs: number, timeoutMs: number) {
  peer = spawn(process.execPath, ['-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(peer.stdout!, 'data')) as [Buffer];
  const s = connect(`http://127.0.0.1:${line.toString().trim()}`);
  session = s;
  keepAlive(s, { intervalMs, timeoutMs });
  const stream = s.request({ ':method': 'POST', ':path': '/' }, { endStream: false });
  await once(stream, 'response');
  return { s, stream };
}

describe('HBONE keepalive', () => {
  it('destroys the session of a peer that stopped answering, and resets its streams', async () => {
    const { s, stream } = await open(100, 300);
    const streamErrors: Error[] = [];
    stream.on('error', (e) => streamErrors.push(e));
    const streamClosed = new Promise((r) => stream.once('close', r));
    const started = Date.now();
    peer!.kill('SIGSTOP');
    const [err] = (await once(s, 'error')) as [Error];
    expect(err.message).toBe('HBONE peer did not answer a PING within 300 ms');
    await streamClosed;
    expect(streamErrors.map((e) => e.message)).toEqual([err.message]);
    expect(s.destroyed).toBe(true);
    expect(stream.rstCode).not.toBe(0);
    // One interval to send, the timeout to give up; generous room for a busy machine.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps the session of a peer that answers, idle or not', async () => {
    const { s, stream } = await open(50, 1_000);
    let pings = 0;
    s.on('ping', () => pings++);
    const acked: number[] = [];
    const origPing = s.ping.bind(s);
    s.ping = ((cb: (err: Error | null, ms: number) => void) =>
      origPing((err, ms) => {
        if (!err) acked.push(ms);
        cb(err, ms);
      })) as typeof s.ping;
    stream.write('hello');
    await new Promise((r) => setTimeout(r, 600));
    expect(s.destroyed).toBe(false);
    expect(acked.length).toBeGreaterThanOrEqual(3);
    expect(pings).toBe(0); // the peer never pinged us: these are our PINGs' answers
  });

  it('stops its timers when the session closes', async () => {
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    try {
      const { s } = await open(20, 1_000);
      const interval = setSpy.mock.results.at(-1)!.value;
      expect(clearSpy).not.toHaveBeenCalledWith(interval);
      s.destroy();
      await once(s, 'close');
      expect(clearSpy).toHaveBeenCalledWith(interval);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });

  it('gives up on a session whose handshake never finishes', async () => {
    // A listener that accepts TCP and never speaks: a frozen peer's kernel does as much.
    const { createServer } = await import('node:net');
    const mute = createServer(() => {});
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as { port: number }).port;
    const { connect: tlsConnect } = await import('node:tls');
    const s = connect(`https://127.0.0.1:${port}`, {
      createConnection: () => tlsConnect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'] }),
    });
    session = s;
    keepAlive(s, { intervalMs: 100, timeoutMs: 300 });
    const [err] = (await once(s, 'error')) as [Error];
    expect(err.message).toBe('HBONE peer did not finish the handshake within 300 ms');
    mute.close();
  });
});
