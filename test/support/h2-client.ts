// Client apps for L7 tests over HTTP/2 cleartext (prior knowledge), gRPC's
// wire format on it, and a raw Upgrade (WebSocket handshake) on a socket.
import { once } from 'node:events';
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { grpcFrame, grpcMessages } from './echo.ts';

export interface H2Answer {
  headers: Record<string, string | string[] | number | undefined>;
  trailers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
}

export function h2Session(addr: { host: string; port: number }): ClientHttp2Session {
  const s = h2connect(`http://${addr.host}:${addr.port}`);
  s.on('error', () => {});
  return s;
}

export function h2Request(
  s: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const r = s.request(
      { ':authority': 'echo.shop', ...headers },
      { endStream: body === undefined },
    );
    let h: H2Answer['headers'] = {};
    let t: H2Answer['trailers'] = {};
    const chunks: Buffer[] = [];
    r.on('response', (x) => {
      h = x;
    });
    r.on('trailers', (x) => {
      t = x;
    });
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => resolve({ headers: h, trailers: t, body: Buffer.concat(chunks) }));
    r.on('error', reject);
    if (body !== undefined) r.end(body);
  });
}

/** A gRPC call: `messages` in, the answer's messages, headers and trailers out. */
export async function grpcCall(
  s: ClientHttp2Session,
  method: string,
  messages: string[],
): Promise<H2Answer & { messages: string[]; status: string | undefined }> {
  const a = await h2Request(
    s,
    { ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers' },
    Buffer.concat(messages.map(grpcFrame)),
  );
  // A trailers-only answer carries grpc-status in its headers.
  const status = (a.trailers['grpc-status'] ?? a.headers['grpc-status']) as string | undefined;
  return { ...a, messages: grpcMessages(a.body), status };
}

/** An Upgrade handshake on a raw socket; returns the 101's head and what came back for `send`. */
export async function upgrade(
  addr: { host: string; port: number },
  path: string,
  send: string,
): Promise<{ head: string; echoed: string }> {
  const s = connect(addr.port, addr.host);
  await once(s, 'connect');
  s.write(
    `GET ${path} HTTP/1.1\r\nhost: echo.shop\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  let got = '';
  s.setEncoding('utf8');
  const until = (want: (x: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (want(got)) {
          s.off('data', on);
          resolve();
        }
      };
      const on = (d: string) => {
        got += d;
        check();
      };
      s.on('data', on);
      s.once('error', reject);
      s.once('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
      check();
    });
  await until((x) => x.includes('\r\n\r\n'));
  const end = got.indexOf('\r\n\r\n') + 4;
  const head = got.slice(0, end);
  if (!head.startsWith('HTTP/1.1 101')) {
    s.destroy();
    return { head, echoed: '' };
  }
  s.write(send);
  await until((x) => x.slice(end).includes(send));
  const echoed = got.slice(end);
  s.destroy();
  return { head, echoed };
}

/** A server-first line protocol: the greeting, then one line sent and its answer. */
export async function lineProtocol(
  addr: { host: string; port: number },
  line: string,
): Promise<string[]> {
  const s = connect(addr.port, addr.host);
  s.setEncoding('utf8');
  let got = '';
  await new Promise<void>((resolve, reject) => {
    s.on('data', (d: string) => {
      got += d;
      if (got.split('\n').length === 2) s.write(`${line}\n`);
      if (got.split('\n').length >= 3) resolve();
    });
    s.once('error', reject);
  });
  s.destroy();
  return got.trim().split('\n');
}
