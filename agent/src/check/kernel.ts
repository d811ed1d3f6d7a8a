// Kernel checks: the release against the first version that has each feature
// weft uses, and the BTF that CO-RE relocation needs. The load probes are the
// final word (a vendor kernel may backport); these say which feature is missing.
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

interface Feature {
  id: string;
  title: string;
  min: [number, number];
  /** What weft uses it for, for the hint. */
  use: string;
}

export const FEATURES: readonly Feature[] = [
  {
    id: 'kernel.cgroup-links',
    title: 'cgroup programs attach through BPF links',
    min: [5, 7],
    use: 'attaching connect/getpeername/sockops at the cgroup root so they survive agent restarts',
  },
  {
    id: 'kernel.getpeername',
    title: 'cgroup getpeername hooks',
    min: [5, 8],
    use: 'showing apps their original peer after a redirect',
  },
  {
    id: 'kernel.ringbuf',
    title: 'BPF ring buffer',
    min: [5, 8],
    use: 'verdict events',
  },
  {
    id: 'kernel.sk-lookup',
    title: 'sk_lookup programs',
    min: [5, 9],
    use: 'steering plaintext inbound connections to the proxy (ingress policy, strict mTLS)',
  },
  {
    id: 'kernel.sockmap',
    title: 'sockmap, sockhash and sk_msg',
    min: [4, 18],
    use: 'handing listeners to sk_lookup and splicing loopback hops',
  },
];

const release: Check = {
  id: 'kernel.release',
  title: 'kernel release can be read',
  category: 'kernel',
  run({ host }) {
    const r = host.kernelRelease();
    if (!parseRelease(r))
      return fail(`kernel release '${r}' does not start with a version`, 'is this Linux?');
    return ok(`Linux ${r}`);
  },
};

function featureCheck(f: Feature): Check {
  const [maj, min] = f.min;
  return {
    id: f.id,
    title: `${f.title} (kernel ≥ ${maj}.${min})`,
    category: 'kernel',
    run({ host }) {
      const r = host.kernelRelease();
      const v = parseRelease(r);
      if (!v) return warn(`cannot tell from release '${r}'`, 'the load probes below decide');
      if (atLeast(v, maj, min)) return ok(`${v.major}.${v.minor} ≥ ${maj}.${min}`);
      return fail(
        `kernel ${v.major}.${v.minor} is older than ${maj}.${min}`,
        `weft needs kernel ${maj}.${min} or newer for ${f.use}; upgrade the kernel`,
      );
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
