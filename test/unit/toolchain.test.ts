// scripts/toolchain.sh names the build's floors instead of failing later in
// the compiler: a stand-in pkg-config reports the libbpf version.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = new URL('../../scripts/toolchain.sh', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-toolchain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withLibbpf(version: string) {
  const bin = join(dir, version);
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'pkg-config'), `#!/bin/sh\necho ${version}\n`);
  chmodSync(join(bin, 'pkg-config'), 0o755);
  return spawnSync('bash', [script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
}

describe('toolchain floors', () => {
  it("refuses Ubuntu 22.04's libbpf 0.5 by name and says what to use", () => {
    const r = withLibbpf('0.5.0');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'toolchain: libbpf 0.5.0 found; weft needs libbpf 1.0 or newer (Ubuntu 22.04 ships 0.5):',
    );
    expect(r.stderr).toContain('use Debian 12 or Ubuntu 24.04');
  });

  it('accepts libbpf 1.x', () => {
    const r = withLibbpf('1.1.2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
