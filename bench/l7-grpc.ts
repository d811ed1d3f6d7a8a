// The gRPC sides of bench/l7.ts, each its own process:
//   app HOST PORT                         a unary gRPC echo over h2c
//   load HOST PORT PATH SECONDS STREAMS   unary calls on one HTTP/2 connection, STREAMS at once;
//                                         prints {requests, seconds, rps, p50, p99} (µs) as JSON
import { connect, createServer } from 'node:http2';

const [role, host, port, ...rest] = process.argv.slice(2);

const frame = (msg: Buffer) => {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
};

if (role === 'app') {
  const server = createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(chunks));
    });
  });
  server.listen(Number(port), host, () => process.stdout.write('ready\n'));
} else if (role === 'load') {
  const [path, seconds, streams] = rest;
  const session = connect(`http://${host}:${port}`);
  const body = frame(Buffer.from('weft bench: a small unary message'));
  const lat: number[] = [];
  const end = performance.now() + Number(seconds) * 1000;
  let failed = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const r = session.request({
        ':method': 'POST',
        ':path': path!,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let ok = false;
      r.on('trailers', (t) => {
        ok = t['grpc-status'] === '0';
      });
      r.on('data', () => {});
      r.on('error', () => {});
      r.on('close', () => {
        if (ok) lat.push(performance.now() - t0);
        else failed++;
        resolve();
      });
      r.end(body);
    });
  const worker = async () => {
    while (performance.now() < end) await one();
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Number(streams) }, worker));
  const took = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((lat[Math.floor((lat.length - 1) * p)] ?? 0) * 1000);
  process.stdout.write(
    `${JSON.stringify({ requests: lat.length, failed, seconds: took, rps: lat.length / took, p50: pct(0.5), p99: pct(0.99) })}\n`,
  );
  session.close();
}
