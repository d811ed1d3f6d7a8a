import { describe, expect, it } from 'vitest';
import { filesystemChecks } from '../../../agent/src/check/filesystems.ts';
import { parseMounts } from '../../../agent/src/datapath/system.ts';
import { fakeHost, judge } from './fake-host.ts';

const withMounts = (text: string, files?: Record<string, string>) =>
  fakeHost({ mounts: () => parseMounts(text), ...(files ? { files } : {}) });

const HYBRID = `tmpfs /sys/fs/cgroup tmpfs ro,nosuid 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
bpf /sys/fs/bpf bpf rw 0 0
`;

describe('filesystem checks', () => {
  it('fails when no cgroup2 is mounted, saying how to get one', async () => {
    const r = await judge(
      filesystemChecks,
      'fs.cgroup2',
      withMounts('cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\nbpf /sys/fs/bpf bpf rw 0 0\n'),
    );
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('no cgroup2 filesystem in the mount table');
    expect(r.hint).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
  });

  it('passes on a hybrid host and names where cgroup2 is', async () => {
    const r = await judge(filesystemChecks, 'fs.cgroup2', withMounts(HYBRID));
    expect(r).toEqual({
      verdict: 'ok',
      detail: 'at /sys/fs/cgroup/unified (hybrid host: cgroup v1 controllers mounted too)',
    });
  });

  it('passes on a unified host', async () => {
    expect(await judge(filesystemChecks, 'fs.cgroup2', fakeHost())).toEqual({
      verdict: 'ok',
      detail: 'at /sys/fs/cgroup',
    });
  });

  it('passes bpffs only when bpf is mounted at /sys/fs/bpf', async () => {
    expect((await judge(filesystemChecks, 'fs.bpffs', fakeHost())).verdict).toBe('ok');
    // A tmpfs at /sys/fs/bpf is not bpffs: pins would fail.
    const r = await judge(
      filesystemChecks,
      'fs.bpffs',
      withMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ntmpfs /sys/fs/bpf tmpfs rw 0 0\n'),
    );
    expect(r.verdict).toBe('warn');
    expect(r.detail).toMatch(/the agent mounts it when it starts/);
    expect(r.hint).toMatch(/mount -t bpf bpf \/sys\/fs\/bpf/);
  });

  it('fails bpffs when the kernel does not know the filesystem', async () => {
    const r = await judge(
      filesystemChecks,
      'fs.bpffs',
      withMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n', {
        '/proc/filesystems': 'nodev\tcgroup2\n\text4\n',
      }),
    );
    expect(r.verdict).toBe('fail');
    expect(r.hint).toMatch(/CONFIG_BPF_SYSCALL/);
  });

  it('fails a pin directory outside bpffs', async () => {
    const r = await judge(filesystemChecks, 'fs.pin-dir', fakeHost(), { bpffs: '/tmp/weft' });
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('/tmp/weft is not under /sys/fs/bpf');
    expect(
      (await judge(filesystemChecks, 'fs.pin-dir', fakeHost(), { bpffs: '/sys/fs/bpf/weft/a' }))
        .verdict,
    ).toBe('ok');
  });
});
