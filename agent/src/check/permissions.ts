// Permission checks: the effective capabilities the agent needs, one by one,
// and the memlock limit that caps BPF memory on kernels before 5.11.
import { atLeast, parseRelease } from './kernel.ts';
import { type Check, fail, ok, warn } from './types.ts';

function capCheck(
  id: string,
  title: string,
  anyOf: string[],
  missing: (caps: Set<string>) => { detail: string; hint: string; warnOnly?: boolean },
): Check {
  return {
    id,
    title,
    category: 'permissions',
    run({ host }) {
      const caps = host.capabilities();
      const have = anyOf.filter((c) => caps.has(c));
      if (have.length > 0) return ok(have.join(', '));
      const m = missing(caps);
      return m.warnOnly ? warn(m.detail, m.hint) : fail(m.detail, m.hint);
    },
  };
}

const grant = (cap: string) =>
  `run as root or grant ${cap} (on Kubernetes: securityContext.capabilities.add: [${cap.replace(/^CAP_/, '')}])`;

const bpf = capCheck(
  'perm.bpf',
  'can load BPF programs and create maps',
  ['CAP_BPF', 'CAP_SYS_ADMIN'],
  () => ({
    detail: 'neither CAP_BPF nor CAP_SYS_ADMIN is effective',
    hint: `${grant('CAP_BPF')}; kernels before 5.8 need CAP_SYS_ADMIN instead`,
  }),
);

const netAdmin = capCheck(
  'perm.net-admin',
  'can attach network programs',
  ['CAP_NET_ADMIN'],
  () => ({
    detail: 'CAP_NET_ADMIN is not effective',
    hint: `${grant('CAP_NET_ADMIN')}; cgroup socket, sockops and sk_lookup programs need it`,
  }),
);

const sysAdmin = capCheck(
  'perm.sys-admin',
  "can enter pods' network namespaces",
  ['CAP_SYS_ADMIN'],
  () => ({
    detail: 'CAP_SYS_ADMIN is not effective',
    hint: `${grant('CAP_SYS_ADMIN')}; setns() into a pod's netns for its proxy listeners needs it`,
  }),
);

const ptrace = capCheck(
  'perm.sys-ptrace',
  "can read other processes' namespaces",
  ['CAP_SYS_PTRACE'],
  () => ({
    detail: 'CAP_SYS_PTRACE is not effective',
    hint: `${grant('CAP_SYS_PTRACE')}; without it /proc/<pid>/ns/net of pods run by other users may be unreadable`,
    warnOnly: true,
  }),
);

/** Below this, a kernel that charges BPF memory to memlock runs out of room for weft's maps. */
export const MEMLOCK_WANTED = 64 * 1024 * 1024;

const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;

const memlock: Check = {
  id: 'perm.memlock',
  title: 'memlock limit leaves room for BPF maps',
  category: 'permissions',
  run({ host }) {
    const v = parseRelease(host.kernelRelease());
    if (v && atLeast(v, 5, 11))
      return ok('not used for BPF memory on this kernel (memory cgroup accounting since 5.11)');
    const limit = host.memlockLimit();
    if (limit === null) return ok('unlimited');
    if (limit >= MEMLOCK_WANTED) return ok(mib(limit));
    return warn(
      `RLIMIT_MEMLOCK is ${mib(limit)}, and kernels before 5.11 charge BPF maps to it`,
      'raise it (ulimit -l unlimited, LimitMEMLOCK=infinity in a systemd unit) or grant CAP_SYS_RESOURCE',
    );
  },
};

export const permissionChecks: readonly Check[] = [bpf, netAdmin, sysAdmin, ptrace, memlock];
