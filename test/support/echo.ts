// Echo backends for L7 tests: each answers with what it received (method,
// path, headers, body size) and which pod it is, over HTTP/1.1 and HTTP/2
// cleartext; a gRPC echo speaks the gRPC wire format by hand (length-prefixed
// messages, grpc-status in trailers); an Upgrade turns the connection into an
// echo of bytes; a raw TCP port answers a line protocol.
import { once } from 'node:events';
import { createServer as createHttp1, type Server } from 'node:http';
import { createServer as createHttp2, type Http2Server } from 'node:http2';
import { createServer as createTcp, type Server as TcpServer } from 'node:net';

export interface Echoed {
  pod: string;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  bodyBytes: number;
}

/** gRPC's length-prefixed message. */
export function grpcFrame(msg: string): Buffer {
  const body = Buffer.from(msg);
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(body.length, 1);
  body.copy(b, 5);
  return b;
}

export function grpcMessages(buf: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 5 <= buf.length; ) {
    const n = buf.readUInt32BE(i + 1);
    out.push(buf.subarray(i + 5, i + 5 + n).toString());
    i += 5 + n;
  }
  return out;
}

// `.../flaky/<n>/<key>` (anywhere in the path): the first n requests with that key (per pod) are answered 503.
const FLAKY = /\/flaky\/(\d+)\/([^/?]+)/;

/** The status a path asks for: `/status/<code>`, or 503 while a flaky key has failures left. */
function statusFor(url: string, flaky: Map<string, number>): number {
  const f = FLAKY.exec(url);
  if (f) {
    const seen = (flaky.get(f[2]!) ?? 0) + 1;
    flaky.set(f[2]!, seen);
    return seen <= Number(f[1]) ? 503 : 200;
  }
  const m = /^\/status\/(\d+)/.exec(url);
  return m ? Number(m[1]) : 200;
}

export interface EchoPod {
  /** Paths of the HTTP/1.1 requests seen, and how many connections each server accepted. */
  readonly seen: string[];
  readonly connections: { http: number; h2: number };
  close(): Promise<void>;
}

/**
 * How an echo pod misbehaves, for resilience tests: `delayMs` before every HTTP/1.1
 * answer; `failing`: every HTTP/1.1 request answered 500 until `GET /__fail/off` (and
 * again after `GET /__fail/on`), the switch itself always answered 200.
 */
export interface EchoBehaviour {
  readonly delayMs?: number;
  readonly failing?: boolean;
}

/** HTTP/1.1 on `http`, h2c and gRPC on `h2`, a line protocol on `tcp`, all on `ip`. */
export async function echoPod(
  pod: string,
  ip: string,
  ports: { http: number; h2: number; tcp: number },
  behaviour: EchoBehaviour = {},
): Promise<EchoPod> {
  let failing = behaviour.failing ?? false;
  const seen: string[] = [];
  const flaky = new Map<string, number>();
  const connections = { http: 0, h2: 0 };
  const open = new Set<{ destroy(): void }>();
  const h1: Server = createHttp1((req, res) => {
    seen.push(req.url ?? '/');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
    });
    req.on('end', () => {
      const url = req.url ?? '/';
      const status = statusFor(url, flaky);
      const answer = () => {
        const body = JSON.stringify({
          pod,
          method: req.method ?? '',
          path: url,
          headers: req.headers as Echoed['headers'],
          bodyBytes: n,
        } satisfies Echoed);
        if (url.startsWith('/trailers')) {
          res.writeHead(status, { 'content-type': 'application/json', trailer: 'x-checksum' });
          res.write(body);
          res.addTrailers({ 'x-checksum': 'abc' });
          res.end();
          return;
        }
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-echo-pod': pod,
          'x-drop-me': 'yes',
        });
        res.end(body);
      };
      if (url === '/__fail/on' || url === '/__fail/off') {
        failing = url === '/__fail/on';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ pod, failing }));
        return;
      }
      const go = failing
        ? () => {
            res.writeHead(500, { 'content-type': 'text/plain', 'x-echo-pod': pod });
            res.end('failing\n');
          }
        : answer;
      const delay = /^\/delay\/(\d+)/.exec(url);
      const wait = url.startsWith('/slow')
        ? 3000
        : (behaviour.delayMs ?? 0) + (delay ? Number(delay[1]) : 0);
      if (wait > 0) setTimeout(go, wait).unref();
      else go();
    });
  });
  // Upgrade: 101, then every byte comes back prefixed by the pod's name once.
  h1.on('upgrade', (req, socket, head) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-echo-pod: ${pod}\r\n\r\n`,
    );
    socket.write(`${pod}:`);
    if (head.length) socket.write(head);
    socket.pipe(socket);
    socket.on('error', () => {});
  });
  h1.on('connection', (s) => {
    connections.http++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  const h2: Http2Server = createHttp2();
  h2.on('session', (s) => {
    connections.h2++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      if (String(headers['content-type']).startsWith('application/grpc')) {
        if (path.endsWith('/Fail')) {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '5',
              'grpc-message': 'not here',
            },
            { endStream: true },
          );
          return;
        }
        if (path.endsWith('/Slow')) {
          const ok = { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' };
          setTimeout(() => {
            if (!stream.closed) stream.respond(ok, { endStream: true });
          }, 3000).unref();
          return;
        }
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'x-echo-pod': pod },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-pod': pod }));
        const msgs = grpcMessages(body);
        // Server streaming: `/Stream` answers each message three times.
        const times = path.endsWith('/Stream') ? 3 : 1;
        for (const m of msgs)
          for (let i = 0; i < times; i++) stream.write(grpcFrame(`${pod}:${m}:${i}`));
        stream.end();
        return;
      }
      stream.respond({
        ':status': statusFor(path, flaky),
        'content-type': 'application/json',
        'x-echo-pod': pod,
      });
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v as string;
      stream.end(
        JSON.stringify({
          pod,
          method: String(headers[':method']),
          path,
          headers: h,
          bodyBytes: body.length,
        } satisfies Echoed),
      );
    });
  });
  // A server-first line protocol: greets, then answers each line reversed.
  const tcp: TcpServer = createTcp((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.write(`hello from ${pod}\n`);
    s.on('data', (d) => s.write(`${d.toString().trim().split('').reverse().join('')}\n`));
  });
  const listen = async (srv: Server | Http2Server | TcpServer, port: number) => {
    srv.listen(port, ip);
    await once(srv, 'listening');
  };
  await listen(h1, ports.http);
  await listen(h2, ports.h2);
  await listen(tcp, ports.tcp);
  return {
    seen,
    connections,
    async close() {
      for (const s of open) s.destroy();
      await Promise.all(
        [h1, h2, tcp].map((s) => new Promise((r) => (s as TcpServer).close(() => r(undefined)))),
      );
    },
  };
}
