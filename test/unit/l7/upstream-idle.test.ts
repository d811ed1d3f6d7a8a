// An HTTP/1.1 upstream pool's idle timeout (DestinationRule idleTimeout): a kept-alive
// connection serves request after request, one slower than the idle time included, and
// closes once it has sat idle in the pool that long. Real sockets on loopback.
import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Upstreams } from '../../../agent/src/l7/upstream.ts';
import type { CompiledTrafficPolicy } from '../../../agent/src/tables/index.ts';

const IDLE_MS = 300;

describe('Upstreams http1 idle timeout', () => {
  let server: Server;
  let port = 0;
  const sockets: Socket[] = [];
  const closed: Socket[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const slow = req.url === '/slow';
      setTimeout(() => res.end('ok'), slow ? 2 * IDLE_MS : 0);
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (s: Socket) => {
      sockets.push(s);
      s.on('close', () => closed.push(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('keeps one connection through requests, a slow one included, and closes it idle', async () => {
    const ups = new Upstreams();
    const policy = {
      from: 'test',
      lb: 'ROUND_ROBIN',
      idleTimeoutMs: IDLE_MS,
    } as CompiledTrafficPolicy;
    const src = { workloadKey: 'w', dial: () => connect(port, '127.0.0.1') };
    const ep = { ip: '127.0.0.1', port, pod: 'p' } as never;
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const pool = ups.http1(src, ep, policy)!;
        const r = request({ host: '127.0.0.1', port, path, agent: pool.agent });
        r.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c;
          });
          res.on('end', () => resolve(body));
        });
        r.on('error', reject);
        r.end();
      });
    try {
      expect(await get('/')).toBe('ok');
      expect(await get('/slow')).toBe('ok');
      expect(await get('/')).toBe('ok');
      expect(sockets).toHaveLength(1);
      expect(closed).toHaveLength(0);
      await new Promise((r) => setTimeout(r, IDLE_MS * 3));
      expect(closed).toHaveLength(1);
    } finally {
      ups.close();
    }
  });
});
