// Linux capability numbers → names, to read CapEff from /proc/self/status.
const NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** A capability mask as /proc shows it (hex) → names; bits this table does not know are `cap_<n>`. */
export function decodeCapabilities(hex: string): Set<string> {
  const mask = BigInt(`0x${hex.trim()}`);
  const out = new Set<string>();
  for (let bit = 0n; mask >> bit !== 0n; bit++) {
    if ((mask >> bit) & 1n) out.add(NAMES[Number(bit)] ?? `cap_${bit}`);
  }
  return out;
}

/** The effective set from /proc/<pid>/status text. */
export function effectiveCapabilities(statusText: string): Set<string> {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(statusText);
  if (!m) throw new Error('no CapEff line in /proc/self/status');
  return decodeCapabilities(m[1]!);
}

/** RLIMIT_MEMLOCK's soft limit from /proc/<pid>/limits text; null when unlimited. */
export function memlockFromLimits(limitsText: string): number | null {
  const m = /^Max locked memory\s+(\S+)/m.exec(limitsText);
  if (!m) throw new Error('no "Max locked memory" line in /proc/self/limits');
  return m[1] === 'unlimited' ? null : Number(m[1]);
}
