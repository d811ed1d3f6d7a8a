// After `sudo make`, scripts/own.sh gives what the build wrote back to the
// user who ran sudo, so `make test` as that user can write there.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describePrivileged } from '../support/privileged.ts';

const script = new URL('../../scripts/own.sh', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-own-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tree(name: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'native/Release'), { recursive: true });
  writeFileSync(join(root, 'native/Release/weft_native.node'), '');
  chownSync(root, 0, 0);
  return root;
}

describePrivileged('scripts/own.sh', () => {
  it('gives the tree to the sudo user, every file in it', () => {
    const root = tree('sudo');
    const r = spawnSync('bash', [script, root], {
      env: { ...process.env, SUDO_UID: '65534', SUDO_GID: '65533' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const p of [root, join(root, 'native/Release/weft_native.node')]) {
      expect([statSync(p).uid, statSync(p).gid]).toEqual([65534, 65533]);
    }
  });

  it('leaves the tree alone for root itself, not under sudo', () => {
    const root = tree('plain');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SUDO_UID;
    expect(spawnSync('bash', [script, root], { env }).status).toBe(0);
    expect(statSync(join(root, 'native')).uid).toBe(0);
  });
});
