// HTTP detection on a TCP port that routes bind: HTTP/1.1 and HTTP/2 first bytes
// go to the engine; any other bytes, a silent (server-first) client and an end
// without bytes stay on the L4 path, with every byte and the end still to read.
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECT_MS, detectHttp, looksLikeHttp } from '../../../agent/src/proxy/detect.ts';

describe('HTTP detection', () => {
  // As the proxy does: detection starts as the connection is accepted.
  const accepted: Promise<{ http: boolean; waited: number; rest: string }>[] = [];
  const server = createServer((s) => {
    const t0 = performance.now();
    // The verdict's reader starts at once, as the engine or the L4 path does.
    accepted.push(
      new Promise((resolve) =>
        detectHttp(s, (http) => {
          const waited = performance.now() - t0;
          const chunks: Buffer[] = [];
          s.on('data', (d: Buffer) => chunks.push(d));
          s.once('end', () => {
            s.destroy();
            resolve({ http, waited, rest: Buffer.concat(chunks).toString('latin1') });
          });
        }),
      ),
    );
  });
  let port = 0;
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.close();
  });

  /** Connects, lets `client` act, and reports the verdict and everything read after it. */
  async function detect(client: (s: Socket) => void) {
    const n = accepted.length;
    const c = connect(port, '127.0.0.1');
    await once(c, 'connect');
    client(c);
    while (accepted.length === n) await new Promise((r) => setTimeout(r, 5));
    const r = await accepted[n]!;
    c.destroy();
    return r;
  }

  it('reads request lines and the HTTP/2 preface as HTTP, anything else not', () => {
    for (const x of ['GET / HTTP/1.1\r\n', 'POST /a', 'PRI * HTTP/2.0\r\n', 'OPTIONS * ', 'GE'])
      expect(looksLikeHttp(Buffer.from(x))).toBe(true);
    for (const x of ['\x16\x03\x01\x02\x00', 'hello world', 'SSH-2.0-OpenSSH', '*1\r\n$4\r\nPING'])
      expect(looksLikeHttp(Buffer.from(x, 'latin1'))).toBe(false);
  });

  it('hands HTTP on with its bytes unread', async () => {
    const r = await detect((c) => c.end('GET /x HTTP/1.1\r\nhost: a\r\n\r\n'));
    expect(r).toMatchObject({ http: true, rest: 'GET /x HTTP/1.1\r\nhost: a\r\n\r\n' });
  });

  it('keeps other bytes for the L4 path', async () => {
    const tls = await detect((c) => c.end(Buffer.from('\x16\x03\x01hello', 'latin1')));
    expect(tls).toMatchObject({ http: false, rest: '\x16\x03\x01hello' });
  });

  it('keeps a silent client for the L4 path, after DETECT_MS', async () => {
    const silent = await detect((c) => setTimeout(() => c.end('late'), DETECT_MS + 100));
    expect(silent).toMatchObject({ http: false, rest: 'late' });
    expect(silent.waited).toBeGreaterThanOrEqual(DETECT_MS - 5);
  });

  it('keeps an end without bytes for the L4 path', async () => {
    const ended = await detect((c) => c.end());
    expect(ended).toMatchObject({ http: false, rest: '' });
  });
});
