// A fabricated host for the checks: a healthy modern machine unless a test says
// otherwise. Only what a test overrides differs from it.

import { decodeCapabilities } from '../../../agent/src/check/caps.ts';
import type { KernelProbe } from '../../../agent/src/check/features.ts';
import type {
  Check,
  CheckEnv,
  CheckOptions,
  CheckResult,
  HostProbe,
  LoadProbe,
  PinnedMaps,
} from '../../../agent/src/check/index.ts';
import { parseMounts } from '../../../agent/src/datapath/system.ts';
import { LAYOUT_VERSION, maps } from '../../../agent/src/tables/layout.ts';
import type { AgentStatus } from '../../../agent/src/telemetry/status.ts';

export const UNIFIED_MOUNTS = `sysfs /sys sysfs rw,nosuid 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec 0 0
bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0
`;

export const LOADED: LoadProbe = {
  ok: true,
  programs: [{ name: 'weft_connect4', type: 'cgroup_sock_addr' }],
  maps: [
    { name: 'splice_socks', type: 'sockhash', id: 11 },
    { name: 'inbound_socks', type: 'sockmap', id: 12 },
    { name: 'events', type: 'ringbuf', id: 13 },
    { name: 'egress_allow', type: 'lpm_trie', id: 14 },
  ],
};

/** A kernel with every feature, less the ones named (program/map types, enum constants). */
export function fakeKernel(lacks: readonly string[] = []): KernelProbe {
  const has = (name: string) => !lacks.includes(name);
  let next = 1;
  return {
    progType: has,
    mapType: has,
    enumValue: (_e, v) => (has(v) ? next++ : null),
    helper: () => true,
  };
}

export function fakeHost(
  over: Partial<HostProbe> & { files?: Record<string, string> } = {},
): HostProbe {
  const files: Record<string, string> = {
    '/sys/kernel/btf/vmlinux': '',
    '/proc/filesystems': 'nodev\tcgroup2\nnodev\tbpf\n\text4\n',
    ...over.files,
  };
  const { files: _, ...rest } = over;
  return {
    kernelRelease: () => '6.1.0-18-amd64',
    kernel: () => fakeKernel(),
    exists: (p) => p in files,
    readFile: (p) => files[p] ?? null,
    mounts: () => parseMounts(UNIFIED_MOUNTS),
    // root in the initial user namespace: every capability through CAP_CHECKPOINT_RESTORE
    capabilities: () => decodeCapabilities('000001ffffffffff'),
    memlockLimit: () => 8 * 1024 * 1024,
    bpfObjects: (dir) => [`${dir}/sock_connect.bpf.o`],
    loadObject: () => LOADED,
    agentStatus: () => Promise.reject(new Error('no agent answers on /run/weft/agent.sock')),
    pinnedMaps: (): PinnedMaps => ({
      maps: maps.map((m) => ({ name: m.name, present: true })),
      layoutVersion: LAYOUT_VERSION,
    }),
    ...rest,
  };
}

export const defaultOptions: CheckOptions = {
  pre: true,
  adminSocket: '/run/weft/agent.sock',
  bpffs: '/sys/fs/bpf/weft',
};

export function env(host: HostProbe, options: Partial<CheckOptions> = {}): CheckEnv {
  return { host, options: { ...defaultOptions, ...options } };
}

/** Runs the check with this id out of the list against host. */
export async function judge(
  checks: readonly Check[],
  id: string,
  host: HostProbe,
  options: Partial<CheckOptions> = {},
): Promise<CheckResult> {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} among ${checks.map((x) => x.id).join(', ')}`);
  return c.run(env(host, options));
}

export function status(over: Partial<AgentStatus> = {}): AgentStatus {
  const counters = {
    accepted: 0,
    active: 0,
    failed: 0,
    reset: 0,
    errors: 0,
    bytesFromClient: 0,
    bytesToClient: 0,
  };
  return {
    node: 'node-a',
    layoutVersion: LAYOUT_VERSION,
    snapshotVersion: 3,
    workloads: [
      {
        key: 'shop/web',
        podIP: '10.0.0.2',
        serviceAccount: 'web',
        enrolled: true,
        reason: '',
        workloadId: 1,
        listeners: [],
      },
      {
        key: 'shop/db',
        podIP: '10.0.0.3',
        serviceAccount: 'db',
        enrolled: false,
        reason: 'opted out',
        workloadId: null,
        listeners: [],
      },
    ],
    proxy: { outbound: counters, inbound: counters },
    mtls: false,
    identities: [],
    rejected: [],
    ...over,
  };
}
