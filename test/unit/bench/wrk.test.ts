import { describe, expect, it } from 'vitest';
import { parseWrk, parseWrkTime, wrkArgs, wrkProblems } from '../../../bench/wrk.ts';

// Reports as wrk 4.1.0 (Debian) prints them with --latency.
const ok = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    39.96us   82.09us   2.09ms   99.02%
    Req/Sec   100.36k    14.55k  124.34k    72.73%
  Latency Distribution
     50%   31.00us
     75%   38.00us
     90%   50.00us
     99%  119.00us
  109290 requests in 1.10s, 15.63MB read
Requests/sec:  99392.40
Transfer/sec:     14.22MB
`;

const slowWithErrors = `Running 5s test @ http://10.244.2.3:8080/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    3.01ms   1.02s    91.00%
    Req/Sec     1.51k   120.00     1.70k    70.00%
  Latency Distribution
     50%    4.79ms
     75%    6.00ms
     90%    8.20ms
     99%   16.05ms
  7527 requests in 5.00s, 1.01MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   1505.40
Transfer/sec:    206.12KB
`;

describe('wrk report', () => {
  it('reads counts, rate and percentiles in microseconds', () => {
    const r = parseWrk(ok);
    expect(r).toMatchObject({
      requests: 109290,
      seconds: 1.1,
      requestsPerSec: 99392.4,
      p50: 31,
      p90: 50,
      p99: 119,
      non2xx: 0,
      socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
    });
    expect(wrkProblems(r)).toEqual([]);
  });

  it('converts milliseconds and reads errors and failed responses', () => {
    const r = parseWrk(slowWithErrors);
    expect(r.p50).toBeCloseTo(4790);
    expect(r.p99).toBeCloseTo(16050);
    expect(r.seconds).toBe(5);
    expect(r.non2xx).toBe(12);
    expect(r.socketErrors).toEqual({ connect: 0, read: 2, write: 0, timeout: 1 });
    expect(wrkProblems(r)).toEqual([
      '12 responses outside 2xx/3xx',
      'socket errors: read 2, timeout 1',
    ]);
  });

  it('refuses a report without the latency distribution, quoting wrk', () => {
    const plain = ok.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, '');
    expect(() => parseWrk(plain)).toThrow(/no latency distribution.*Running 1s test/);
  });

  it('refuses what a failed wrk prints', () => {
    expect(() => parseWrk('unable to connect to 10.244.2.3:8080 Connection refused\n')).toThrow(
      /no request count; wrk said: unable to connect/,
    );
  });

  it('flags a run in which nothing completed', () => {
    const none = ok.replace('109290 requests', '0 requests');
    expect(wrkProblems(parseWrk(none))).toEqual(['no request completed']);
  });

  it('reads every unit wrk uses', () => {
    expect(parseWrkTime('12.00us')).toBe(12);
    expect(parseWrkTime('2.50ms')).toBe(2500);
    expect(parseWrkTime('1.10s')).toBeCloseTo(1_100_000);
    expect(parseWrkTime('1.00m')).toBe(60_000_000);
    expect(() => parseWrkTime('12 parsecs')).toThrow(/cannot read: '12 parsecs'/);
  });

  it('builds a one-thread command line with latency percentiles', () => {
    expect(wrkArgs({ url: 'http://10.244.2.3:8080/', connections: 8, seconds: 5 })).toEqual([
      '-t1',
      '-c8',
      '-d5s',
      '--timeout',
      '10s',
      '--latency',
      'http://10.244.2.3:8080/',
    ]);
  });
});
