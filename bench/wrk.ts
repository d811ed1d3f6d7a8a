// wrk, the HTTP load generator: its command line and what its --latency
// report says. Pure.

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
}

/**
 * One thread: the machine has few cores and the proxies under test need them.
 * The timeout is generous so a slow path shows in the percentiles instead of as errors.
 */
export function wrkArgs(o: WrkOptions): string[] {
  return ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '10s', '--latency', o.url];
}

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSec: number;
  /** Latency percentiles in microseconds. */
  p50: number;
  p90: number;
  p99: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };

/** A duration as wrk prints it (`31.00us`, `1.10s`, `2.05ms`) in microseconds. */
export function parseWrkTime(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk printed a time I cannot read: '${text}'`);
  return Number(m[1]) * UNIT_US[m[2]!]!;
}

/** Reads the report of `wrk --latency`; a report without its figures throws, quoting wrk. */
export function parseWrk(out: string): WrkResult {
  const fail = (what: string): never => {
    const said = out.trim().split('\n').slice(0, 3).join(' / ') || '(nothing)';
    throw new Error(`wrk output has no ${what}; wrk said: ${said}`);
  };
  const total = /(\d+) requests in ([\d.]+(?:us|ms|s|m|h)),/.exec(out) ?? fail('request count');
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out) ?? fail('Requests/sec');
  const dist = out.split('Latency Distribution')[1] ?? fail('latency distribution (--latency)');
  const pct = (p: number) => {
    const m =
      new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+(\\S+)`, 'm').exec(dist) ?? fail(`${p}th percentile`);
    return parseWrkTime(m[1]!);
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(total[1]),
    seconds: parseWrkTime(total[2]!) / 1e6,
    requestsPerSec: Number(rps[1]),
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: {
      connect: sock ? Number(sock[1]) : 0,
      read: sock ? Number(sock[2]) : 0,
      write: sock ? Number(sock[3]) : 0,
      timeout: sock ? Number(sock[4]) : 0,
    },
  };
}

/** What makes a run unfit to report: any failed response or socket error. */
export function wrkProblems(r: WrkResult): string[] {
  const out: string[] = [];
  if (r.requests === 0) out.push('no request completed');
  if (r.non2xx > 0) out.push(`${r.non2xx} responses outside 2xx/3xx`);
  const e = r.socketErrors;
  const errs = Object.entries(e).filter(([, n]) => n > 0);
  if (errs.length) out.push(`socket errors: ${errs.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out;
}
