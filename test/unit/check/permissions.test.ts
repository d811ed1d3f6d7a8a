import { describe, expect, it } from 'vitest';
import {
  decodeCapabilities,
  effectiveCapabilities,
  memlockFromLimits,
} from '../../../agent/src/check/caps.ts';
import { permissionChecks } from '../../../agent/src/check/permissions.ts';
import { fakeHost, judge } from './fake-host.ts';

const withCaps = (...caps: string[]) => fakeHost({ capabilities: () => new Set(caps) });

describe('capabilities', () => {
  it("decodes a container runtime's default set", () => {
    // Docker's and containerd's default for a non-privileged container.
    expect([...decodeCapabilities('00000000a80425fb')].sort()).toEqual(
      [
        'CAP_AUDIT_WRITE',
        'CAP_CHOWN',
        'CAP_DAC_OVERRIDE',
        'CAP_FOWNER',
        'CAP_FSETID',
        'CAP_KILL',
        'CAP_MKNOD',
        'CAP_NET_BIND_SERVICE',
        'CAP_NET_RAW',
        'CAP_SETFCAP',
        'CAP_SETGID',
        'CAP_SETPCAP',
        'CAP_SETUID',
        'CAP_SYS_CHROOT',
      ].sort(),
    );
  });

  it('decodes CAP_BPF (bit 39) and names bits it does not know', () => {
    const caps = decodeCapabilities('0000808000001000');
    expect([...caps]).toEqual(['CAP_NET_ADMIN', 'CAP_BPF', 'cap_47']);
  });

  it('reads CapEff, not CapPrm, from /proc/self/status', () => {
    const status = 'Name:\tnode\nCapPrm:\t0000000000200000\nCapEff:\t0000000000001000\n';
    expect([...effectiveCapabilities(status)]).toEqual(['CAP_NET_ADMIN']);
    expect(() => effectiveCapabilities('Name:\tnode\n')).toThrow(/no CapEff line/);
  });

  it('reads the memlock soft limit', () => {
    const limits = `Limit                     Soft Limit           Hard Limit           Units
Max locked memory         8388608              16777216             bytes
`;
    expect(memlockFromLimits(limits)).toBe(8388608);
    expect(
      memlockFromLimits('Max locked memory         unlimited            unlimited  bytes'),
    ).toBeNull();
  });
});

describe('permission checks', () => {
  it('fails without CAP_BPF and CAP_SYS_ADMIN, with a hint', async () => {
    const r = await judge(permissionChecks, 'perm.bpf', withCaps('CAP_NET_ADMIN', 'CAP_NET_RAW'));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('neither CAP_BPF nor CAP_SYS_ADMIN is effective');
    expect(r.hint).toMatch(/capabilities\.add: \[BPF\]/);
    expect(r.hint).toMatch(/before 5\.8 need CAP_SYS_ADMIN/);
  });

  it('takes CAP_BPF alone for loading, but still wants CAP_SYS_ADMIN for setns', async () => {
    const host = withCaps('CAP_BPF', 'CAP_NET_ADMIN');
    expect(await judge(permissionChecks, 'perm.bpf', host)).toEqual({
      verdict: 'ok',
      detail: 'CAP_BPF',
    });
    expect((await judge(permissionChecks, 'perm.net-admin', host)).verdict).toBe('ok');
    const sys = await judge(permissionChecks, 'perm.sys-admin', host);
    expect(sys.verdict).toBe('fail');
    expect(sys.hint).toMatch(/setns/);
  });

  it('fails without CAP_NET_ADMIN', async () => {
    const r = await judge(permissionChecks, 'perm.net-admin', withCaps('CAP_SYS_ADMIN'));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('CAP_NET_ADMIN is not effective');
  });

  it('only warns without CAP_SYS_PTRACE', async () => {
    const r = await judge(permissionChecks, 'perm.sys-ptrace', withCaps('CAP_SYS_ADMIN'));
    expect(r.verdict).toBe('warn');
    expect(r.hint).toMatch(/\/proc\/<pid>\/ns\/net/);
  });

  it('warns about a low memlock limit only on kernels before 5.11', async () => {
    const low = (release: string, limit: number | null) =>
      fakeHost({ kernelRelease: () => release, memlockLimit: () => limit });
    const old = await judge(permissionChecks, 'perm.memlock', low('5.10.0-30-amd64', 8 << 20));
    expect(old.verdict).toBe('warn');
    expect(old.detail).toBe(
      'RLIMIT_MEMLOCK is 8 MiB, and kernels before 5.11 charge BPF maps to it',
    );
    expect(old.hint).toMatch(/LimitMEMLOCK=infinity/);
    expect((await judge(permissionChecks, 'perm.memlock', low('5.10.0', null))).detail).toBe(
      'unlimited',
    );
    expect((await judge(permissionChecks, 'perm.memlock', low('5.10.0', 128 << 20))).verdict).toBe(
      'ok',
    );
    const modern = await judge(permissionChecks, 'perm.memlock', low('5.11.0', 64 << 10));
    expect(modern.verdict).toBe('ok');
    expect(modern.detail).toMatch(/memory cgroup accounting/);
  });
});
