// The machine a run happened on, for the report.
import { cpus, loadavg, release } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  /** ISO date and time of the start of the run. */
  date: string;
  /** 1-minute load average at the start and the end of the run. */
  loadStart: number;
  loadEnd: number;
}

export function describeMachine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() || 'unknown CPU',
    cores: c.length,
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    loadStart: loadavg()[0]!,
    loadEnd: Number.NaN,
  };
}

export const currentLoad = (): number => loadavg()[0]!;
