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

/** A share of a profile: a label and the frames it claims ("name file:line", as summarise keys them). */
export type Rule = readonly [label: string, frame: RegExp];

/**
 * Busy time by what the process was doing, inclusive: each sample goes to the innermost
 * frame of its stack that a rule claims (the first rule that matches it), so a rule on
 * the agent function that dials a socket also takes the Node and native time under it.
 * A sample no rule claims goes to its leaf's area (areaOf). µs, largest first.
 */
export function breakdown(
  p: CpuProfile,
  rules: readonly Rule[],
  windows?: readonly [number, number][],
): { busyUs: number; parts: [string, number][] } {
  const inWindow = (t: number) => !windows || windows.some(([a, b]) => t >= a && t <= b);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const claim = new Map<number, string | null>();
  const own = (id: number): string | null => {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.replace(/^.*\/agent\/src\//, '').replace(/^file:\/\//, '');
    const key = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    return rules.find(([, re]) => re.test(key))?.[0] ?? null;
  };
  // Memoised per node: the innermost claim on the path from it to the root.
  const claimOf = (id: number): string | null => {
    const have = claim.get(id);
    if (have !== undefined) return have;
    const mine = own(id);
    const up = parent.get(id);
    const c = mine ?? (up === undefined ? null : claimOf(up));
    claim.set(id, c);
    return c;
  };
  const parts = new Map<string, number>();
  let busy = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (!inWindow(t)) continue;
    const w = p.timeDeltas[i + 1] ?? 0;
    const id = p.samples[i]!;
    const node = byId.get(id);
    if (!node) throw new Error(`cpu profile: sample ${i} names node ${id}, not in nodes`);
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    if (area === 'idle') continue;
    busy += w;
    const label = claimOf(id) ?? area;
    parts.set(label, (parts.get(label) ?? 0) + w);
  }
  return { busyUs: busy, parts: sorted(parts) };
}
