import { describe, expect, it } from 'vitest';
import { parseCpuStat, parsePpid, parseVmRssKiB } from '../../../bench/cpu.ts';

describe('cgroup and /proc readers', () => {
  it('reads usage_usec from cpu.stat', () => {
    const stat = 'usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnice_usec 0\n';
    expect(parseCpuStat(stat)).toBe(123456);
    expect(() => parseCpuStat('user_usec 1\n')).toThrow(/no usage_usec/);
  });

  it('reads VmRSS in KiB, and 0 for a process without it', () => {
    const status = 'Name:\tnode\nVmPeak:\t 900000 kB\nVmRSS:\t   84512 kB\nThreads:\t11\n';
    expect(parseVmRssKiB(status)).toBe(84512);
    expect(parseVmRssKiB('Name:\tnginx\nState:\tZ (zombie)\n')).toBe(0);
  });

  it('reads the parent pid even when the command name holds spaces and parentheses', () => {
    expect(parsePpid('4242 (nginx) S 4100 4242 4100 0 -1')).toBe(4100);
    expect(parsePpid('77 (a (b) c) R 12 77 77 0 -1')).toBe(12);
    expect(() => parsePpid('garbage')).toThrow(/parent pid/);
  });
});
