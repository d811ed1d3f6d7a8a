// Programs the benchmark runs inside pods: an echo/sink server, a bulk sender
// and a 1-byte ping-pong. The same programs run for direct and meshed paths,
// so their own cost cancels out of the ratios.

/** Port 9000 echoes (for round trips); port 9001 sinks and reports bytes after the client's FIN. */
export const benchServer = `
import net from 'node:net';
net.createServer({ noDelay: true }, (s) => { s.setNoDelay(true); s.pipe(s); s.on('error', () => {}); }).listen(9000, '0.0.0.0', () => {
  net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (d) => { n += d.length; });
    s.on('end', () => s.end(String(n)));
    s.on('error', () => {});
  }).listen(9001, '0.0.0.0', () => console.log('listening'));
});
`;

/** Sends as fast as back-pressure allows for ms milliseconds; prints {bytes, seconds}. */
export const bulkClient = (host: string, ms: number) => `
import net from 'node:net';
const chunk = Buffer.alloc(256 * 1024, 7);
const s = net.connect({ host: '${host}', port: 9001, allowHalfOpen: true });
let t0 = 0; let sent = 0; let stop = false; let reply = '';
const pump = () => { while (!stop) { sent += chunk.length; if (!s.write(chunk)) return; } };
s.on('connect', () => { t0 = performance.now(); setTimeout(() => { stop = true; s.end(); }, ${ms}); pump(); });
s.on('drain', pump);
s.on('data', (d) => { reply += d; });
s.on('end', () => {
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ bytes: Number(reply), sent, seconds }));
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;

/**
 * n sequential 1-byte round trips after a warm-up; prints RTT percentiles in
 * microseconds. With cpuStat (a cgroup's cpu.stat), also the CPU time that
 * cgroup used during the measured round trips (cpuUsec).
 */
export const pingClient = (host: string, n: number, cpuStat?: string) => `
import net from 'node:net';
import { readFileSync } from 'node:fs';
const cpuStat = ${JSON.stringify(cpuStat ?? null)};
const usage = () => cpuStat ? Number(/^usage_usec (\\d+)$/m.exec(readFileSync(cpuStat, 'utf8'))[1]) : 0;
const s = net.connect({ host: '${host}', port: 9000, noDelay: true });
const one = Buffer.from([1]);
const warm = 2000; const rtts = new Float64Array(${n}); let i = -warm; let t = 0n; let u0 = 0;
s.on('connect', () => { t = process.hrtime.bigint(); s.write(one); });
s.on('data', () => {
  const now = process.hrtime.bigint();
  if (i >= 0) rtts[i] = Number(now - t) / 1000;
  i++;
  if (i === 0) u0 = usage();
  if (i === ${n}) {
    const cpuUsec = usage() - u0;
    s.destroy(); rtts.sort();
    console.log(JSON.stringify({ p50: rtts[Math.floor(${n} * 0.5)], p90: rtts[Math.floor(${n} * 0.9)], p99: rtts[Math.floor(${n} * 0.99)], cpuUsec }));
    return;
  }
  t = process.hrtime.bigint(); s.write(one);
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;

/**
 * New connections one after another for ms milliseconds, each carrying one
 * byte to the server and back before it closes (so a connection counts only
 * once it works end to end); prints {count, seconds}.
 */
export const connectClient = (host: string, ms: number, port = 9000) => `
import net from 'node:net';
const t0 = performance.now(); let count = 0;
const next = () => {
  if (performance.now() - t0 > ${ms}) { console.log(JSON.stringify({ count, seconds: (performance.now() - t0) / 1000 })); return; }
  const s = net.connect({ host: '${host}', port: ${port}, noDelay: true }, () => s.write('x'));
  s.once('data', () => { count++; s.destroy(); next(); });
  s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); });
};
next();
`;
