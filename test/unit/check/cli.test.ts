// weft check's command line: usage errors exit 2 before anything is probed.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const weft = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8' });

describe('weft check command line', () => {
  it('is listed in weft --help', () => {
    expect(weft('--help').stdout).toMatch(/\n {2}check +Check that this host/);
  });

  it('prints its help', () => {
    const r = weft('check', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: weft check \[--pre\]/);
    expect(r.stdout).toMatch(/--admin-socket PATH/);
  });

  it('exits 2 on an unknown option or output format, without a stack trace', () => {
    const a = weft('check', '--frobnicate');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(
      /^weft: check: Unknown option '--frobnicate'\. Run 'weft check --help'\.\n$/,
    );
    const b = weft('check', '-o', 'yaml');
    expect(b.status).toBe(2);
    expect(b.stderr).toBe('weft: check: -o takes text or json\n');
    expect(b.stdout).toBe('');
  });
});
