// The CPU profile summary the footprint benchmark prints: self time per function and
// per area, idle left out of the busy share, windows respected.
import { describe, expect, it } from 'vitest';
import { areaOf, breakdown, type CpuProfile, summarise } from '../../../bench/cpu-profile.ts';

const frame = (functionName: string, url = '', lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('join', 'file:///repo/agent/src/proxy/pipe.ts', 9) },
    { id: 4, callFrame: frame('open', 'file:///repo/agent/src/proxy/hbone/client.ts', 131) },
    { id: 5, callFrame: frame('request', 'node:internal/http2/core', 1830) },
    { id: 6, callFrame: frame('(garbage collector)') },
  ],
  startTime: 1000,
  endTime: 2000,
  // Each sample weighs the delta to the next one.
  samples: [2, 3, 3, 4, 5, 6, 2],
  timeDeltas: [0, 100, 100, 100, 100, 100, 100],
};

describe('cpu profile summary', () => {
  it('names the area of a frame', () => {
    expect(areaOf('file:///x/agent/src/proxy/hbone/tls.ts', 'f')).toBe('agent proxy/hbone');
    expect(areaOf('file:///x/agent/src/telemetry/stats.ts', 'f')).toBe('agent telemetry');
    expect(areaOf('node:internal/http2/core', 'f')).toBe('node:http2');
    expect(areaOf('node:net', 'f')).toBe('node:net');
    expect(areaOf('file:///x/node_modules/prom-client/lib/counter.js', 'f')).toBe(
      'npm prom-client',
    );
    expect(areaOf('', '(garbage collector)')).toBe('gc');
  });

  it('sums self time per function and area, idle outside the busy time', () => {
    const s = summarise(profile);
    expect(s.totalUs).toBe(600);
    expect(s.busyUs).toBe(500);
    expect(s.functions[0]).toEqual(['join proxy/pipe.ts:10', 200]);
    expect(new Map(s.areas)).toEqual(
      new Map([
        ['agent proxy', 200],
        ['agent proxy/hbone', 100],
        ['node:http2', 100],
        ['gc', 100],
      ]),
    );
  });

  it('counts only samples within the windows', () => {
    const s = summarise(profile, [[1150, 1350]]);
    expect(s.busyUs).toBe(200);
    expect(s.functions.map((f) => f[0])).toEqual([
      'join proxy/pipe.ts:10',
      'open proxy/hbone/client.ts:132',
    ]);
  });

  it('names a sample whose node is missing', () => {
    expect(() => summarise({ ...profile, samples: [9] })).toThrow(/sample 0 names node 9/);
  });

  it('breaks busy time down by the innermost frame a rule claims, the rest by area', () => {
    // root → outbound (agent) → dial (agent) → connect (native); root → (gc); root → idle.
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
        {
          id: 2,
          callFrame: frame('handle', 'file:///r/agent/src/proxy/outbound.ts', 9),
          children: [3],
        },
        {
          id: 3,
          callFrame: frame('dial', 'file:///r/agent/src/proxy/forward.ts', 3),
          children: [4],
        },
        { id: 4, callFrame: frame('connect') },
        { id: 5, callFrame: frame('(garbage collector)') },
        { id: 6, callFrame: frame('(idle)') },
      ],
      startTime: 0,
      endTime: 600,
      samples: [4, 4, 2, 5, 6, 6],
      timeDeltas: [0, 100, 100, 100, 100, 100],
    };
    const b = breakdown(p, [
      ['route', /proxy\/outbound\.ts/],
      ['dial', /proxy\/forward\.ts/],
    ]);
    expect(b.busyUs).toBe(400);
    // connect runs under dial (innermost claim), handle's own time is route's.
    expect(new Map(b.parts)).toEqual(
      new Map([
        ['dial', 200],
        ['route', 100],
        ['gc', 100],
      ]),
    );
  });
});
