// `sudo make demo` is the end-to-end test: it must see every expected outcome
// and leave nothing behind.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { repoRoot } from '../../../agent/src/datapath/index.ts';
import { cgroup2Root } from '../../../agent/src/datapath/system.ts';
import { describePrivileged } from '../../support/privileged.ts';

describePrivileged('demo', () => {
  it('runs the newest end-to-end flow with every expected outcome, and cleans up', () => {
    const r = spawnSync(process.execPath, [`${repoRoot}scripts/demo.ts`], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('All expected outcomes seen.');
    expect(r.stdout).not.toContain('✗');
    expect(r.status).toBe(0);
    const name = `demo${r.pid! % 100000}`;
    expect(readdirSync('/var/run/netns').filter((n) => n.startsWith(`weft-${name}-`))).toEqual([]);
    expect(existsSync(`${cgroup2Root()}/weft-${name}`)).toBe(false);
    expect(existsSync(`/sys/fs/bpf/weft/${name}`)).toBe(false);
  }, 100_000);
});
