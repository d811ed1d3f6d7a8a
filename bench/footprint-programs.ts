// Programs the footprint benchmark runs inside pods: a server that echoes on
// 9000 and never reads on 9002, a client that opens and holds many idle
// connections, and one whose peer stops reading. Each client prints one JSON
// line once its connections are in place and holds them until it is killed.

/** 9000 echoes; 8080 answers HTTP with 1 KB; 9001 sinks and reports bytes after the client's FIN; 9002 accepts and never reads (a stalled reader). */
export const footprintServer = `
import net from 'node:net';
import http from 'node:http';
net.createServer({ noDelay: true }, (s) => { s.pipe(s); s.on('error', () => {}); }).listen({ port: 9000, host: '0.0.0.0', backlog: 4096 }, () => {
  net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (d) => { n += d.length; });
    s.on('end', () => s.end(String(n)));
    s.on('error', () => {});
  }).listen(9001, '0.0.0.0');
  // HTTP: every request's body read, 1 KB answered.
  const kb = Buffer.alloc(1024, 120);
  http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
    req.resume();
    req.on('end', () => res.end(kb));
  }).listen(8080, '0.0.0.0');
  net.createServer((s) => { s.pause(); s.on('error', () => {}); }).listen({ port: 9002, host: '0.0.0.0', backlog: 4096 }, () => console.log('listening'));
});
`;

/**
 * Opens count connections to each target (at most 200 connecting at once), each
 * carrying one byte there and back so it is known to work end to end, then holds them
 * idle; prints {open, failed, errors}.
 */
export const holdClient = (targets: { host: string; port: number; count: number }[]) => `
import net from 'node:net';
const targets = ${JSON.stringify(targets)};
const held = []; let failed = 0; const errors = {};
const jobs = targets.flatMap((t) => Array.from({ length: t.count }, () => t));
let next = 0;
const one = (t) => new Promise((done) => {
  const s = net.connect({ host: t.host, port: t.port });
  const fail = (e) => { failed++; errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1; s.destroy(); done(); };
  s.once('error', fail);
  s.setTimeout(20000, () => fail(new Error('TIMEOUT')));
  s.once('connect', () => s.write('x'));
  s.once('data', () => { s.setTimeout(0); s.removeListener('error', fail); s.on('error', () => {}); held.push(s); done(); });
});
const worker = async () => { while (next < jobs.length) await one(jobs[next++]); };
await Promise.all(Array.from({ length: 200 }, worker));
console.log(JSON.stringify({ open: held.length, failed, errors }));
setInterval(() => {}, 1 << 30);
`;

/**
 * Opens count connections to host:9002 (whose server never reads) and writes into
 * each until back-pressure holds it for a second; prints {open, failed, bytes}
 * (bytes: what the client's writes accepted, all connections).
 */
export const stallClient = (host: string, count: number) => `
import net from 'node:net';
const chunk = Buffer.alloc(64 * 1024, 7);
const held = []; let failed = 0; let bytes = 0; let last = performance.now();
await Promise.all(Array.from({ length: ${count} }, () => new Promise((done) => {
  const s = net.connect({ host: '${host}', port: 9002 });
  s.once('error', () => { failed++; done(); });
  s.once('connect', () => { held.push(s); done(); });
})));
for (const s of held) {
  s.on('error', () => {});
  const pump = () => { while (s.write(chunk)) { bytes += chunk.length; last = performance.now(); } bytes += chunk.length; last = performance.now(); };
  s.on('drain', pump);
  pump();
}
const settled = setInterval(() => {
  if (performance.now() - last < 1000) return;
  clearInterval(settled);
  console.log(JSON.stringify({ open: held.length, failed, bytes }));
}, 200);
setInterval(() => {}, 1 << 30);
`;

/**
 * Istio's load shape, open loop: POSTs of 1 KB at a fixed rate over a few kept-alive
 * connections, for seconds (the first second is warm-up, not counted). A request's
 * latency runs from the time it was scheduled, not sent, so a slow response delays
 * the measure of the requests queued behind it (no coordinated omission). Prints
 * {p50, p90, p99 (µs), count, errors, late (requests still queued at their time)}.
 */
export const fixedRateClient = (url: string, rate: number, seconds: number, conns: number) => `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: ${conns} });
const body = Buffer.alloc(1024, 97);
const total = ${rate} * (${seconds} + 1); const warm = ${rate};
const lat = new Float64Array(total - warm); let errors = 0; let late = 0; let inFlight = 0;
const t0 = performance.now() + 100; let i = 0;
const finish = () => {
  const xs = lat.filter((x) => x > 0).sort();
  const q = (p) => Math.round(xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] * 1000);
  console.log(JSON.stringify({ p50: q(0.5), p90: q(0.9), p99: q(0.99), count: xs.length, errors, late }));
  process.exit(0);
};
let counted = 0;
const settle = () => { if (++counted === total) finish(); };
const issue = (k, at) => {
  if (inFlight >= ${conns}) late++;
  inFlight++;
  const req = http.request(${JSON.stringify(url)}, { agent, method: 'POST', headers: { 'content-length': 1024 } }, (res) => {
    res.resume();
    res.on('end', () => { inFlight--; if (k >= warm) lat[k - warm] = performance.now() - at; settle(); });
  });
  req.on('error', () => { inFlight--; errors++; settle(); });
  req.end(body);
};
const tick = () => {
  const now = performance.now();
  while (i < total && t0 + (i * 1000) / ${rate} <= now) { issue(i, t0 + (i * 1000) / ${rate}); i++; }
  if (i < total) setTimeout(tick, 1);
};
setTimeout(tick, 100);
setTimeout(() => { console.log(JSON.stringify({ error: 'did not finish' })); process.exit(0); }, (${seconds} + 30) * 1000);
`;
