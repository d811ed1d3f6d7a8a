// Summary of a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file): the
// self time of each function and of each source area, over the samples taken
// in a window of the profiled process's monotonic clock. Pure.

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time in the window, µs (idle included). */
  totalUs: number;
  /** Sampled time not idle, µs. */
  busyUs: number;
  /** Self time per function ("name file:line"), µs, largest first. */
  functions: [string, number][];
  /** Self time per area (agent room, node: internals, native, gc, …), µs, largest first. */
  areas: [string, number][];
}

/** The area a frame belongs to: the agent's room (proxy/hbone, datapath, …), a node: module, or V8's own. */
export function areaOf(url: string, name: string): string {
  if (!url) {
    if (name === '(garbage collector)') return 'gc';
    if (name === '(program)') return 'program (native, not JS)';
    if (name === '(idle)') return 'idle';
    return 'native';
  }
  const room = /\/agent\/src\/([^/]+)(\/hbone)?\//.exec(url);
  if (room) return `agent ${room[1]}${room[2] ?? ''}`;
  const nodeMod = /^node:(internal\/)?([^/]+)/.exec(url);
  if (nodeMod) return `node:${nodeMod[2]}`;
  if (url.includes('/node_modules/')) {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return `npm ${pkg?.[1] ?? '?'}`;
  }
  return 'other';
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

/** Self time by function and area over samples whose time is within one of windows ([from, to] µs); all without. */
export function summarise(p: CpuProfile, windows?: readonly [number, number][]): ProfileSummary {
  const inWindow = (t: number) => !windows || windows.some(([a, b]) => t >= a && t <= b);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (!inWindow(t)) continue;
    // A sample's weight is the time until the next one.
    const w = p.timeDeltas[i + 1] ?? 0;
    const node = byId.get(p.samples[i]!);
    if (!node) throw new Error(`cpu profile: sample ${i} names node ${p.samples[i]}, not in nodes`);
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    total += w;
    if (area === 'idle') continue;
    busy += w;
    const file = url.replace(/^.*\/agent\/src\//, '').replace(/^file:\/\//, '');
    const key = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + w);
    areas.set(area, (areas.get(area) ?? 0) + w);
  }
  return { totalUs: total, busyUs: busy, functions: sorted(fns), areas: sorted(areas) };
}
