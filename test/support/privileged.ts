// Privileged tests need root, BPF and cgroup v2. Off CI they skip with the
// reason when those are missing; under CI=true they fail instead, so a green
// CI run always means the datapath really ran.
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { cgroup2Root } from '../../agent/src/datapath/system.ts';

export function privilegedBlocker(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF (/sys/kernel/btf/vmlinux)';
  try {
    cgroup2Root();
  } catch (e) {
    return (e as Error).message;
  }
  if (!existsSync(new URL('../../build/native/Release/weft_native.node', import.meta.url))) {
    return 'native addon not built (make build)';
  }
  return null;
}

const inCI = ['1', 'true'].includes((process.env.CI ?? '').toLowerCase());

export function describePrivileged(name: string, fn: () => void): void {
  const blocker = privilegedBlocker();
  if (!blocker) {
    describe(name, fn);
  } else if (inCI) {
    describe(name, () => {
      it('runs with root and BPF', () => {
        throw new Error(`privileged tests cannot run under CI: ${blocker}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${blocker})`, fn);
  }
}
