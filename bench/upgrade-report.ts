// The agent upgrade bench's page (docs/benchmarks-upgrade.md) and its section of
// docs/benchmarks.md. Pure: figures in, text out. The section sits between two
// marker comments, so the matrix (bench/run.ts) keeps it when it rewrites the page.
import type { Machine } from './machine.ts';
import { median } from './stats.ts';

export interface UpgradeFigures {
  machine: Machine;
  /** Open connections asked for in the loaded rounds. */
  conns: number;
  /** Each open connection's message interval (ms). */
  messageMs: number;
  /** Handover times with no traffic (ms). */
  idleMs: number[];
  loaded: { ms: number; opened: number; broken: number; refused: number; stallMs: number }[];
}

const BEGIN = '<!-- upgrade bench: begin -->';
const END = '<!-- upgrade bench: end -->';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const list = (xs: number[]) => xs.map(s).join(', ');

/** The figures as the section both pages carry. */
function section(f: UpgradeFigures): string {
  const m = f.machine;
  const loaded = f.loaded;
  const opened = loaded.map((l) => l.opened);
  return `${BEGIN}
## Agent upgrade

\`node bench/upgrade.ts\` ([docs/upgrades.md](upgrades.md)): one node's agent replaced by
\`weft sandbox restart\`, timed from the new agent's start to the old agent's exit; with no
traffic, and with ${f.conns.toLocaleString('en-US')} open connections (half to a pod on the same
node, half plaintext to a pod outside the mesh, all relayed in the kernel and so moved, each
echoing a message every ${f.messageMs} ms). ${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node},
${m.date.slice(0, 10)}; 1-minute load average ${m.loadStart.toFixed(1)} at the start and
${m.loadEnd.toFixed(1)} at the end${m.loadStart > m.cores ? ' (the machine was loaded by other work: every figure includes waiting for a CPU)' : ''}.

| | rounds | handover (median) | each | longest stall of an open connection | reset | refused new |
| --- | --- | --- | --- | --- | --- | --- |
| no traffic | ${f.idleMs.length} | ${f.idleMs.length ? s(median(f.idleMs)) : 'failed'} | ${list(f.idleMs)} | | | |
| ${opened.length ? Math.min(...opened).toLocaleString('en-US') : f.conns} open connections | ${loaded.length} | ${loaded.length ? s(median(loaded.map((l) => l.ms))) : 'failed'} | ${list(loaded.map((l) => l.ms))} | ${loaded.length ? `${Math.max(...loaded.map((l) => l.stallMs))} ms` : ''} | ${loaded.reduce((a, l) => a + l.broken, 0)} | ${loaded.reduce((a, l) => a + l.refused, 0)} |

Most of a handover is the new agent's own start (Node, the BPF objects, the listeners, the
pods' certificates); the old agent leaves within a drain tick (100 ms) of the last relayed
connection moving. The stall is the longest gap between two echoes on one connection, against
${f.messageMs} ms between messages, over the whole round (the machine's load alone makes gaps).
${END}
`;
}

export function upgradeMarkdown(f: UpgradeFigures): string {
  return `# Benchmarks: agent upgrade

Written by \`node bench/upgrade.ts\` (part of \`make bench\`). Rounds: \`WEFT_BENCH_ROUNDS\`;
open connections: \`WEFT_BENCH_UPGRADE_CONNS\`.

${section(f)}`;
}

/**
 * page with its section `name` (between `<!-- NAME: begin -->` and `<!-- NAME: end -->`)
 * replaced by (or, if it has none, followed by) md's.
 */
export function withMarkedSection(page: string, md: string, name: string): string {
  const [begin, end] = [`<!-- ${name}: begin -->`, `<!-- ${name}: end -->`];
  const from = md.indexOf(begin);
  const to = md.indexOf(end);
  if (from < 0 || to < 0) return page;
  const block = md.slice(from, to + end.length);
  const a = page.indexOf(begin);
  const b = page.indexOf(end);
  if (a >= 0 && b > a) return page.slice(0, a) + block + page.slice(b + end.length);
  return `${page.trimEnd()}\n\n${block}\n`;
}

/** page with its upgrade section replaced by (or, if it has none, followed by) upgradeMd's. */
export const withUpgradeSection = (page: string, upgradeMd: string): string =>
  withMarkedSection(page, upgradeMd, 'upgrade bench');
