// Kernel checks: each feature weft uses, probed in the running kernel
// (features.ts), and the BTF that CO-RE relocation needs. The release is only
// reported, against the kernels weft is tested on; the probes decide.
import {
  describeNeed,
  FEATURES,
  type Feature,
  featureMissingLine,
  type KernelProbe,
  MIN_KERNEL,
  missingNeeds,
  TESTED_KERNELS,
} from './features.ts';
import { type Check, fail, ok, warn } from './types.ts';

export interface KernelVersion {
  major: number;
  minor: number;
  patch: number;
}

/** "6.1.0-18-amd64" → 6.1.0; null when the release does not start with a version. */
export function parseRelease(release: string): KernelVersion | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

const release: Check = {
  id: 'kernel.release',
  title: 'kernel release can be read',
  category: 'kernel',
  run({ host }) {
    const r = host.kernelRelease();
    if (!parseRelease(r))
      return fail(`kernel release '${r}' does not start with a version`, 'is this Linux?');
    const v = parseRelease(r)!;
    const [maj, min] = MIN_KERNEL.split('.').map(Number) as [number, number];
    if (!atLeast(v, maj, min))
      return warn(
        `Linux ${r} is older than any kernel weft is tested on (${TESTED_KERNELS.join(', ')})`,
        'the feature probes below decide; docs/kernels.md lists what was proven',
      );
    return ok(`Linux ${r}`);
  },
};

function featureCheck(f: Feature): Check {
  return {
    id: f.id,
    title: `${f.title} (Linux ${f.since}+)`,
    category: 'kernel',
    run({ host }) {
      // Unprivileged, every probe load fails: that says nothing about the kernel.
      const caps = host.capabilities();
      if (!caps.has('CAP_BPF') && !caps.has('CAP_SYS_ADMIN'))
        return warn(
          'not probed: loading probe programs needs CAP_BPF or CAP_SYS_ADMIN',
          'run weft check as root',
        );
      let k: KernelProbe;
      try {
        k = host.kernel();
      } catch (e) {
        return fail(`cannot probe the kernel: ${(e as Error).message}`);
      }
      const missing = missingNeeds(f, k);
      if (missing.length === 0) return ok(f.needs.map(describeNeed).join(', '));
      return fail(featureMissingLine(f, missing), 'upgrade the kernel (docs/kernels.md)');
    },
  };
}

export const BTF_PATH = '/sys/kernel/btf/vmlinux';

const btf: Check = {
  id: 'kernel.btf',
  title: 'kernel BTF is available',
  category: 'kernel',
  run({ host }) {
    if (host.exists(BTF_PATH)) return ok(BTF_PATH);
    return fail(
      `${BTF_PATH} is missing`,
      "weft's programs are CO-RE and relocate against the kernel's BTF: use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
    );
  },
};

export const kernelChecks: readonly Check[] = [release, btf, ...FEATURES.map(featureCheck)];
