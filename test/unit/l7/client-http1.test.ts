// The HTTP/1.1 server the engine feeds connections to by hand (it never listens):
// Node's header timeout still holds there, so a header block that trickles in costs
// its connection instead of holding it open.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClientHttp1 } from '../../../agent/src/l7/client-http1.ts';

let listener: net.Server;
let port = 0;

beforeAll(async () => {
  const h1 = new ClientHttp1<string>({
    onRequest: (ctx, _req, res) => res.end(ctx),
    headersMs: 300,
  });
  listener = net.createServer((c) => h1.serve(c, 'served'));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => listener.close(() => r())));

/** Writes `parts` over one connection; resolves with what came back and when it closed. */
function exchange(parts: string[]): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    const t0 = Date.now();
    let text = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      text += d;
    });
    c.on('close', () => resolve({ text, ms: Date.now() - t0 }));
    for (const p of parts) c.write(p);
    // Close our side once a complete answer is in, so a served request ends the exchange too.
    c.on('data', () => {
      if (text.endsWith('served')) c.end();
    });
  });
}

it('answers a complete request on a connection it was handed', async () => {
  const a = await exchange(['GET / HTTP/1.1\r\nHost: x\r\n\r\n']);
  expect(a.text).toMatch(/^HTTP\/1\.1 200 OK/);
  expect(a.text.endsWith('served')).toBe(true);
});

it('answers 408 and closes a connection whose header block does not finish', async () => {
  const a = await exchange(['GET / HTTP/1.1\r\nHost: x\r\n']);
  expect(a.text).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
});
