// One process of bench/hbone-cpu.ts, on loopback:
//   send CLIENT_PORT MS           writes 256 KiB chunks for MS, then ends
//   client PORT SERVER_PORT DIR   accepts plaintext, opens an HBONE CONNECT per connection
//   server PORT SINK_PORT DIR     HBONE (HTTP/2 over mutual TLS 1.3), joins each stream to the sink
// The proxies are built from the agent's own pieces (the HBONE session and
// server of proxy/hbone/session.ts, join, stream tuning) without its datapath;
// with WEFT_BENCH_STOCK=1 they keep Node's stream defaults. They print one JSON line of their CPU time on SIGTERM.
import { readFileSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { createServer, connect as netConnect } from 'node:net';
import { join as joinPath } from 'node:path';
import { resetClientStream } from '../agent/src/proxy/hbone/client.ts';
import { DEFAULT_KEEPALIVE } from '../agent/src/proxy/hbone/keepalive.ts';
import { resetStream } from '../agent/src/proxy/hbone/server.ts';
import { connectHbone, createHboneServer } from '../agent/src/proxy/hbone/session.ts';
import { join, resetSocket, tuneStreams } from '../agent/src/proxy/pipe.ts';
import { DirectionStats } from '../agent/src/telemetry/stats.ts';

const [role, a, b, dir] = process.argv.slice(2);
const material = (name: string) => {
  const read = (f: string) => readFileSync(joinPath(dir!, `${name}.${f}`), 'utf8');
  return { keyPem: read('key'), certChainPem: read('crt'), roots: [read('root')] };
};
const ready = () => process.stdout.write('ready\n');
const stats = new DirectionStats();
if (role !== 'send' && process.env.WEFT_BENCH_STOCK !== '1') tuneStreams();

if (role === 'send') {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const end = Date.now() + Number(b);
  const s = netConnect(Number(a), '127.0.0.1', () => {
    const go = () => {
      while (Date.now() < end) if (!s.write(chunk)) return void s.once('drain', go);
      s.end();
    };
    go();
  });
  s.resume();
} else if (role === 'server') {
  const server = createHboneServer(material('server'), DEFAULT_KEEPALIVE);
  server.on('stream', (stream) => {
    const app = netConnect(Number(b), '127.0.0.1', () => {
      stream.respond({ ':status': 200 });
      join(stream, app, stats, resetStream, resetSocket);
    });
  });
  server.listen(Number(a), '127.0.0.1', ready);
} else if (role === 'client') {
  const m = material('client');
  let session: ClientHttp2Session | undefined;
  const get = () => {
    if (session && !session.closed) return session;
    session = connectHbone(
      `https://127.0.0.1:${b}`,
      () => ({
        socket: netConnect(Number(b), '127.0.0.1').setNoDelay(true),
        key: m.keyPem,
        cert: m.certChainPem,
        ca: m.roots,
        // The SPIFFE check of the real client is not what is measured here.
        checkServerIdentity: () => undefined,
      }),
      DEFAULT_KEEPALIVE,
    );
    return session;
  };
  createServer({ noDelay: true }, (app) => {
    const stream = get().request(
      { ':method': 'CONNECT', ':authority': '127.0.0.1:1' },
      { endStream: false },
    );
    join(app, stream, stats, resetSocket, resetClientStream);
  }).listen(Number(a), '127.0.0.1', ready);
} else {
  process.stderr.write(`hbone-pair: unknown role ${role}\n`);
  process.exit(2);
}

process.on('SIGTERM', () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000 })}\n`);
  process.exit(0);
});
