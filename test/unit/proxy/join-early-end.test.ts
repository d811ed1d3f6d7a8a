// An end that came before the join: Node emits a socket's or HTTP/2 stream's 'end' at its
// EOF by itself, read or not, when nothing is buffered. A client that half-closes before
// sending a byte, while the proxy still dials the other side, has had its only 'end' by the
// time join() is made; the join must pass it on, or the server waits for it forever and
// never answers. Real loopback sockets and HTTP/2 (plaintext: TLS changes nothing here).
import { once } from 'node:events';
import { connect as h2connect, createServer as h2server, type ServerHttp2Stream } from 'node:http2';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Counts, join, resetSocket } from '../../../agent/src/proxy/pipe.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function listen(s: Server | ReturnType<typeof h2server>): Promise<number> {
  closers.push(() => s.close());
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as AddressInfo).port;
}

/** An app that answers "bye" and ends once it has read the client's end. */
async function app(): Promise<number> {
  return listen(
    createServer({ allowHalfOpen: true }, (s) => {
      s.on('end', () => s.end('bye')).resume();
    }),
  );
}

/** Waits for side's 'end' (Node emits it unread), then dials the app and joins the two. */
function joinAfterEnd(side: Duplex, appPort: number, reset: (d: Duplex) => void) {
  return new Promise<{ reset: boolean; counts: Counts }>((done) => {
    side.once('end', () => {
      expect(side.readableEnded).toBe(true);
      const up = connect({ port: appPort, host: '127.0.0.1', allowHalfOpen: true });
      up.once('connect', () =>
        join(side, up, null, reset, resetSocket, (r, counts) => done({ reset: r, counts })),
      );
    });
  });
}

describe('join of a side that ended before it', () => {
  it('passes a TCP FIN on and carries the answer back', async () => {
    const appPort = await app();
    let joined!: Promise<{ reset: boolean; counts: Counts }>;
    const proxyPort = await listen(
      createServer({ allowHalfOpen: true }, (client: Socket) => {
        joined = joinAfterEnd(client, appPort, resetSocket);
      }),
    );
    const c = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    c.on('data', (d) => {
      got += d;
    });
    c.end();
    await once(c, 'end');
    expect(got).toBe('bye');
    c.destroy();
    expect(await joined).toEqual({ reset: false, counts: { fromClient: 0, toClient: 3 } });
  });

  it('passes an END_STREAM that came before any DATA on, and carries the answer back', async () => {
    const appPort = await app();
    let joined!: Promise<{ reset: boolean; counts: Counts }>;
    const server = h2server();
    server.on('stream', (stream: ServerHttp2Stream) => {
      stream.respond({ ':status': 200 });
      joined = joinAfterEnd(stream, appPort, (d) => d.destroy(new Error('reset')));
    });
    const port = await listen(server);
    const session = h2connect(`http://127.0.0.1:${port}`);
    closers.push(() => session.destroy());
    const s = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:1' });
    let got = '';
    s.on('data', (d) => {
      got += d;
    });
    s.end();
    await once(s, 'end');
    expect(got).toBe('bye');
    expect(await joined).toEqual({ reset: false, counts: { fromClient: 0, toClient: 3 } });
  });
});
