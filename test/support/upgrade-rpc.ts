// Request traffic that must cross an agent upgrade without a failed call: gRPC
// unary calls (node:http2, one kept-alive session per target, replaced when the
// server sends GOAWAY) and HTTP/1.1 GETs over one kept-alive connection, each every
// 50 ms until SIGTERM; then the pod program prints what it saw as JSON.

export interface RpcTarget {
  name: string;
  host: string;
  port: number;
  kind: 'grpc' | 'http';
}

export interface RpcCounts {
  ok: number;
  failed: number;
  /** gRPC calls the server refused unprocessed (a stream that raced a GOAWAY), sent again once. */
  retried: number;
  /** HTTP/2 sessions (gRPC) or TCP connections (HTTP/1.1) the client used. */
  connections: number;
  errors: string[];
}

/** A gRPC server (unary: echoes each message back) on port; prints "listening". */
export const grpcServer = (port: number) => `
import http2 from 'node:http2';
const s = http2.createServer();
s.on('stream', (st) => {
  st.on('error', () => {});
  const parts = [];
  st.on('data', (d) => parts.push(d));
  st.on('end', () => {
    const msg = Buffer.concat(parts).subarray(5);
    const out = Buffer.alloc(5 + msg.length);
    out.writeUInt32BE(msg.length, 1);
    msg.copy(out, 5);
    st.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0' }));
    st.end(out);
  });
});
s.listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

/** An HTTP/1.1 server answering "ok" on port; prints "listening". */
export const httpServer = (port: number) => `
import http from 'node:http';
http.createServer((req, res) => res.end('ok')).listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

export const rpcClient = (targets: RpcTarget[], everyMs: number) => `
import http from 'node:http';
import http2 from 'node:http2';
const targets = ${JSON.stringify(targets)};
const res = {};
const timers = [];
function frame(text) {
  const m = Buffer.from(text);
  const b = Buffer.alloc(5 + m.length);
  b.writeUInt32BE(m.length, 1);
  m.copy(b, 5);
  return b;
}
function grpc(t, r) {
  let session;
  const current = () => {
    // A session that got GOAWAY is closed by Node: new calls go on a new one.
    if (!session || session.closed || session.destroyed) {
      session = http2.connect('http://' + t.host + ':' + t.port);
      session.on('error', () => {});
      r.connections++;
    }
    return session;
  };
  let n = 0;
  const fail = (why) => { r.failed++; if (r.errors.length < 10) r.errors.push(why + ' at ' + new Date().toISOString()); };
  const call = (msg, attempt) => {
    let st;
    try {
      st = current().request({ ':method': 'POST', ':path': '/echo.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' });
    } catch (e) {
      session = undefined;
      if (attempt === 0) { r.retried++; return call(msg, 1); }
      return fail(e.code ?? e.message);
    }
    let answered = false;
    let status;
    let errCode;
    const parts = [];
    st.on('response', (h) => { answered = true; status = h['grpc-status']; });
    st.on('data', (d) => parts.push(d));
    st.on('trailers', (h) => { status = h['grpc-status']; });
    st.on('error', (e) => { errCode = e.code; });
    st.on('close', () => {
      const body = Buffer.concat(parts).subarray(5).toString();
      if (status === '0' && body === msg) return void r.ok++;
      // Refused unprocessed (beyond the GOAWAY's last stream): a gRPC client sends it again.
      const refused = st.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM || errCode === 'ERR_HTTP2_GOAWAY_SESSION';
      if (!answered && refused && attempt === 0) { r.retried++; return call(msg, 1); }
      fail('status ' + status + ' rst ' + st.rstCode + ' ' + (errCode ?? ''));
    });
    st.end(frame(msg));
  };
  timers.push(setInterval(() => call(t.name + ':' + n++, 0), ${everyMs}));
  return () => session?.close();
}
function get(t, r) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  timers.push(setInterval(() => {
    const req = http.get({ host: t.host, port: t.port, path: '/', agent }, (rs) => {
      sockets.add(rs.socket);
      r.connections = sockets.size;
      rs.resume();
      rs.on('end', () => { if (rs.statusCode === 200) r.ok++; else { r.failed++; r.errors.push(String(rs.statusCode)); } });
    });
    req.on('error', (e) => { r.failed++; if (r.errors.length < 10) r.errors.push(e.code ?? e.message); });
  }, ${everyMs}));
  return () => agent.destroy();
}
const ends = targets.map((t) => {
  const r = (res[t.name] = { ok: 0, failed: 0, retried: 0, connections: 0, errors: [] });
  return t.kind === 'grpc' ? grpc(t, r) : get(t, r);
});
console.log('started');
process.on('SIGTERM', () => {
  for (const t of timers) clearInterval(t);
  // The last calls' answers come back first, then every connection ends cleanly.
  setTimeout(() => {
    for (const e of ends) e();
    console.log(JSON.stringify(res));
    process.exit(0);
  }, 500);
});
`;
