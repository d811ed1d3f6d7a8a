// Traffic that must cross an agent upgrade untouched: long-lived connections that
// exchange a numbered message every interval (each echoed back and checked in
// order), and a new short connection at a fixed rate. The pod program runs until
// SIGTERM, then ends every connection cleanly and prints what it saw as JSON.

export interface LoadTarget {
  name: string;
  host: string;
  port: number;
  /** Long-lived connections to it. */
  count: number;
}

export interface LoadResult {
  ready: boolean;
  opened: Record<string, number>;
  /** Long-lived connections that ended with an error (reset) or closed before the end. */
  broken: Record<string, string[]>;
  /** Echoes that did not match what was sent, in order. */
  mismatched: number;
  /** Messages sent on every long-lived connection, and echoed back in order. */
  sent: number;
  echoed: number;
  /** Bytes written on every long-lived connection, and read back. */
  bytesSent: number;
  bytesEchoed: number;
  /**
   * Per kind, the connections whose echoes fell short of what they sent (or went past it):
   * `id: echoed/sent messages, read/written bytes`. Empty when nothing was lost, the tail
   * included.
   */
  short: Record<string, string[]>;
  fresh: {
    ok: number;
    failed: number;
    /** The first 20 failures, and the last 5. */
    errors: string[];
    lastErrors: string[];
    afterFirstFailureOkMs?: number;
    /** Wall-clock time (ms) the first connection to succeed after a failure was opened. */
    recoveredAt?: number;
    /** Wall-clock times (ms) the first and the last failed connection were opened. */
    firstFailureAt?: number;
    lastFailureAt?: number;
    /** The longest a refused (ECONNREFUSED) connection took to fail (ms). */
    slowestRefusalMs?: number;
  };
  cleanCloses: number;
  /** The longest wait between two echoes on one connection, per kind (ms). */
  stallMs: Record<string, number>;
}

/** An echo server on port (0.0.0.0); prints "listening". */
export const echoServer = (port: number) => `
import net from 'node:net';
net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.pipe(s);
}).listen(${port}, '0.0.0.0', 4096, () => console.log('listening'));
`;

export const loadClient = (targets: LoadTarget[], intervalMs: number, freshEveryMs: number) => `
import net from 'node:net';
const targets = ${JSON.stringify(targets)};
const res = { ready: false, opened: {}, broken: {}, mismatched: 0, sent: 0, echoed: 0,
  bytesSent: 0, bytesEchoed: 0, short: {},
  fresh: { ok: 0, failed: 0, errors: [], lastErrors: [] }, cleanCloses: 0, stallMs: {} };
const conns = [];
let ending = false;
function open(t, i) {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    const c = { s, t, sent: 0, want: 0, buf: '', id: t.name + i, wrote: 0, read: 0 };
    s.setNoDelay(true);
    s.on('connect', () => { res.opened[t.name] = (res.opened[t.name] ?? 0) + 1; resolve(c); });
    s.on('data', (d) => {
      c.read += d.length;
      c.buf += d;
      let nl;
      while ((nl = c.buf.indexOf('\\n')) >= 0) {
        const line = c.buf.slice(0, nl); c.buf = c.buf.slice(nl + 1);
        if (line === c.id + ':' + c.want) c.want++; else res.mismatched++;
        const now = performance.now();
        if (c.last !== undefined && !ending)
          res.stallMs[t.name] = Math.max(res.stallMs[t.name] ?? 0, Math.round(now - c.last));
        c.last = now;
      }
    });
    s.on('end', () => { if (!ending) (res.broken[t.name] ??= []).push(c.id + ': ended early'); });
    s.on('error', (e) => { (res.broken[t.name] ??= []).push(c.id + ': ' + e.code); resolve(c); });
    s.on('close', (hadError) => { if (ending && !hadError) res.cleanCloses++; });
  });
}
for (const t of targets) {
  const batch = [];
  for (let i = 0; i < t.count; i++) batch.push(open(t, i));
  conns.push(...await Promise.all(batch));
}
const tick = setInterval(() => {
  for (const c of conns) {
    if (c.s.destroyed || c.s.writableEnded) continue;
    const m = c.id + ':' + c.sent++ + '\\n';
    c.wrote += Buffer.byteLength(m);
    c.s.write(m);
  }
}, ${intervalMs});
let n = 0;
let firstFailure;
const fresh = setInterval(() => {
  const t = targets[n++ % targets.length];
  const s = net.connect({ host: t.host, port: t.port });
  const t0 = performance.now();
  const wall = Date.now();
  s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  s.on('connect', () => s.write('fresh\\n'));
  s.on('data', (d) => {
    if (String(d) === 'fresh\\n') {
      res.fresh.ok++;
      if (firstFailure !== undefined && res.fresh.afterFirstFailureOkMs === undefined)
        { res.fresh.afterFirstFailureOkMs = t0 - firstFailure; res.fresh.recoveredAt = wall; }
      s.end();
    }
  });
  s.on('error', (e) => {
    res.fresh.failed++;
    firstFailure ??= t0;
    res.fresh.firstFailureAt ??= wall;
    res.fresh.lastFailureAt = wall;
    if (e.code === 'ECONNREFUSED')
      res.fresh.slowestRefusalMs = Math.max(res.fresh.slowestRefusalMs ?? 0, Math.round(performance.now() - t0));
    const what = t.name + ': ' + (e.code ?? e.message) + ' at ' + new Date().toISOString();
    if (res.fresh.errors.length < 20) res.fresh.errors.push(what);
    res.fresh.lastErrors = [...res.fresh.lastErrors.slice(-4), what];
  });
}, ${freshEveryMs});
// Ready once every long-lived connection has had an echo.
const readyCheck = setInterval(() => {
  if (conns.every((c) => c.want > 0 || c.s.destroyed)) {
    clearInterval(readyCheck);
    res.ready = true;
    console.log('ready');
  }
}, 50);
process.on('SIGTERM', async () => {
  clearInterval(fresh);
  clearInterval(tick);
  // The last messages' echoes come back first (every one, or 5 s at most), then every
  // connection ends cleanly.
  const drained = () => conns.every((c) => c.s.destroyed || c.want >= c.sent);
  for (let i = 0; i < 100 && !drained(); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  ending = true;
  for (const c of conns) {
    res.sent += c.sent;
    res.echoed += c.want;
    res.bytesSent += c.wrote;
    res.bytesEchoed += c.read;
    if (c.want !== c.sent || c.read !== c.wrote)
      (res.short[c.t.name] ??= []).push(c.id + ': ' + c.want + '/' + c.sent + ' messages, ' + c.read + '/' + c.wrote + ' bytes');
  }
  await Promise.all(conns.map((c) => new Promise((r) => {
    if (c.s.destroyed) return r();
    c.s.once('close', r);
    c.s.end();
    setTimeout(r, 3000);
  })));
  console.log(JSON.stringify(res));
  process.exit(0);
});
`;
