// Kernel features weft needs, each found by asking the kernel (a program type
// it loads, a map type it creates, a helper, attach or link type its own BTF
// names), never by its version: vendors backport, and configs leave things out.
// `weft check` reports each; the agent refuses to start without one, in one
// line naming the feature and the kernel weft is tested on.

/** Answers from the running kernel (native probes in host.ts; fabricated in tests). */
export interface KernelProbe {
  progType(name: string): boolean;
  mapType(name: string): boolean;
  /** The value of an enum constant in the kernel's BTF; null when the kernel lacks it. */
  enumValue(enumName: string, value: string): number | null;
  /** The helper (by id) is callable from programs of that type. */
  helper(progType: string, id: number): boolean;
}

export type Need =
  | { prog: string }
  | { map: string }
  | { attach: string }
  | { link: string }
  | { helper: string; from: string };

export interface Feature {
  id: string;
  title: string;
  /** The upstream release that added the last of its needs. */
  since: string;
  /** What weft uses it for. */
  use: string;
  needs: Need[];
}

/** The kernels `make test-kernels` proves (docs/kernels.md); the oldest is the floor. */
export const TESTED_KERNELS = ['6.1', '6.12'] as const;
export const MIN_KERNEL = TESTED_KERNELS[0];

export const FEATURES: readonly Feature[] = [
  {
    id: 'kernel.sock-addr',
    title: 'cgroup connect and sendmsg hooks',
    since: '4.18',
    use: 'redirecting and refusing outbound connections',
    needs: [
      { prog: 'cgroup_sock_addr' },
      { attach: 'BPF_CGROUP_INET4_CONNECT' },
      { attach: 'BPF_CGROUP_UDP4_SENDMSG' },
      { helper: 'get_socket_cookie', from: 'cgroup_sock_addr' },
      { helper: 'get_current_cgroup_id', from: 'cgroup_sock_addr' },
    ],
  },
  {
    id: 'kernel.cgroup-links',
    title: 'cgroup programs attach through BPF links',
    since: '5.7',
    use: 'attaching at the cgroup root so the programs outlive an agent restart',
    needs: [{ link: 'BPF_LINK_TYPE_CGROUP' }],
  },
  {
    id: 'kernel.getpeername',
    title: 'cgroup getpeername hooks',
    since: '5.8',
    use: 'showing apps their original peer after a redirect',
    needs: [{ attach: 'BPF_CGROUP_INET4_GETPEERNAME' }],
  },
  {
    id: 'kernel.ringbuf',
    title: 'BPF ring buffer',
    since: '5.8',
    use: 'verdict events',
    needs: [{ map: 'ringbuf' }, { helper: 'ringbuf_reserve', from: 'cgroup_sock_addr' }],
  },
  {
    id: 'kernel.sk-lookup',
    title: 'sk_lookup programs',
    since: '5.9',
    use: 'steering plaintext inbound connections to the proxy (ingress policy, strict mTLS)',
    needs: [
      { prog: 'sk_lookup' },
      { link: 'BPF_LINK_TYPE_NETNS' },
      { helper: 'sk_assign', from: 'sk_lookup' },
    ],
  },
  {
    id: 'kernel.sockmap',
    title: 'sockops, sockmap, sockhash and sk_msg',
    since: '5.15',
    use: 'handing listeners to sk_lookup and splicing loopback hops',
    needs: [
      { prog: 'sock_ops' },
      { prog: 'sk_msg' },
      { map: 'sockmap' },
      { map: 'sockhash' },
      { map: 'lpm_trie' },
      { helper: 'sock_hash_update', from: 'sock_ops' },
      { helper: 'msg_redirect_hash', from: 'sk_msg' },
      { helper: 'get_netns_cookie', from: 'sk_msg' },
    ],
  },
];

export function describeNeed(n: Need): string {
  if ('prog' in n) return `program type ${n.prog}`;
  if ('map' in n) return `map type ${n.map}`;
  if ('attach' in n) return `attach type ${n.attach}`;
  if ('link' in n) return `link type ${n.link}`;
  return `helper bpf_${n.helper} in ${n.from} programs`;
}

function has(k: KernelProbe, n: Need): boolean {
  if ('prog' in n) return k.progType(n.prog);
  if ('map' in n) return k.mapType(n.map);
  if ('attach' in n) return k.enumValue('bpf_attach_type', n.attach) !== null;
  if ('link' in n) return k.enumValue('bpf_link_type', n.link) !== null;
  const id = k.enumValue('bpf_func_id', `BPF_FUNC_${n.helper}`);
  return id !== null && k.helper(n.from, id);
}

/** The needs of f this kernel lacks (none: the feature is there). */
export function missingNeeds(f: Feature, k: KernelProbe): Need[] {
  return f.needs.filter((n) => !has(k, n));
}

/** One line: the feature, what is missing of it, and the kernel weft needs. */
export function featureMissingLine(f: Feature, missing: readonly Need[]): string {
  return (
    `this kernel lacks ${f.title} (${missing.map(describeNeed).join(', ')}; Linux ${f.since}+), ` +
    `which weft needs for ${f.use}: run Linux ${MIN_KERNEL} or newer (tested: ${TESTED_KERNELS.join(', ')})`
  );
}

/** Throws, with the first missing feature's line, unless the kernel has them all. */
export function requireKernelFeatures(k: KernelProbe): void {
  for (const f of FEATURES) {
    const missing = missingNeeds(f, k);
    if (missing.length > 0) throw new Error(featureMissingLine(f, missing));
  }
}
