// How the L7 path's connections end when the proxy closes them (proxy/pipe.ts
// resetWhileBusy), on the real front over loopback with the native addon's
// SO_LINGER: a connection closed between requests ends with a FIN, one closed
// with a request or response on it is reset, so a cut-off answer never looks
// complete. Both the app connection and the client connection.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpFront, startHttpFront } from '../../support/http-front.ts';

let front: HttpFront | undefined;
const opened: Socket[] = [];
afterEach(async () => {
  for (const s of opened) s.destroy();
  opened.length = 0;
  await front?.close();
  front = undefined;
});

/** How a socket ended: 'end' (a FIN, then its close) or the error's code. */
function ending(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let how = '';
    s.on('error', (e: NodeJS.ErrnoException) => {
      how ||= e.code ?? 'error';
    });
    s.on('end', () => {
      how ||= 'end';
    });
    s.on('close', () => resolve(how || 'close'));
  });
}

/** A client that sent one GET and has read `want` from the answer. */
async function asked(port: number, want: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  opened.push(s);
  s.on('error', () => {});
  s.setEncoding('latin1');
  let text = '';
  await new Promise<void>((resolve) => {
    s.on('data', (d: string) => {
      text += d;
      if (text.includes(want)) resolve();
    });
    s.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  });
  return s;
}

const one = <T>(set: ReadonlySet<T>): T => {
  expect(set.size).toBe(1);
  return [...set][0]!;
};

describe('L7 path connection ends', () => {
  it('ends an idle app connection with a FIN when the destination side closes', async () => {
    front = await startHttpFront((_req, res) => res.end('done'));
    await asked(front.port, 'done');
    const app = ending(one(front.app.sockets));
    front.l7.close();
    expect(await app).toBe('end');
  });

  it('resets the app connection when the destination side closes mid-response', async () => {
    front = await startHttpFront((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part');
    });
    await asked(front.port, 'part');
    const app = ending(one(front.app.sockets));
    front.l7.close();
    expect(await app).toBe('ECONNRESET');
  });

  it('ends an idle client connection with a FIN', async () => {
    front = await startHttpFront((_req, res) => res.end('done'));
    const client = await asked(front.port, 'done');
    const how = ending(client);
    one(front.clients).destroy();
    expect(await how).toBe('end');
  });

  it('resets a client connection closed while its request is at the app', async () => {
    front = await startHttpFront(() => {});
    const client = connect(front.port, '127.0.0.1');
    opened.push(client);
    client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let i = 0; i < 200 && front.app.accepted === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const how = ending(client);
    one(front.clients).destroy();
    expect(await how).toBe('ECONNRESET');
  });
});
