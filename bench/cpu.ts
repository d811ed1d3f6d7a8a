// CPU and memory of what a benchmark row runs: CPU time from the cgroup v2
// cpu.stat of the sandbox (every pod, the agents and any nginx started in a
// pod live below it), memory from the VmRSS of given processes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** usage_usec of a cpu.stat file's text (user + system time of everything in the cgroup tree). */
export function parseCpuStat(text: string): number {
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new Error('cpu.stat has no usage_usec line');
  return Number(m[1]);
}

/** VmRSS of a /proc/PID/status text, in KiB; 0 for a process without memory of its own (zombie). */
export function parseVmRssKiB(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/** The parent pid from a /proc/PID/stat text (the command name may hold spaces and parentheses). */
export function parsePpid(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  if (!Number.isInteger(ppid)) throw new Error(`cannot read the parent pid from: ${stat}`);
  return ppid;
}

export function cgroupUsageUsec(cgroupDir: string): number {
  return parseCpuStat(readFileSync(join(cgroupDir, 'cpu.stat'), 'utf8'));
}

/** Processes directly in a cgroup. */
export function cgroupPids(cgroupDir: string): number[] {
  return readFileSync(join(cgroupDir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number);
}

/** VmRSS in KiB, 0 when the process is gone. */
export function vmRssKiB(pid: number): number {
  try {
    return parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return 0;
  }
}

/** The pid and every descendant of it (an nginx master and its workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ppid = parsePpid(readFileSync(`/proc/${e}/stat`, 'utf8'));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}
