import { describe, expect, it } from 'vitest';
import { cgroup2Root, parseMounts } from '../../../agent/src/datapath/system.ts';

const hybrid = `sysfs /sys sysfs rw,nosuid 0 0
tmpfs /sys/fs/cgroup tmpfs ro 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
`;

describe('host discovery', () => {
  it('finds cgroup2 on a hybrid host at /sys/fs/cgroup/unified', () => {
    expect(cgroup2Root(parseMounts(hybrid))).toBe('/sys/fs/cgroup/unified');
  });

  it('finds cgroup2 on a unified host', () => {
    expect(cgroup2Root(parseMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n'))).toBe(
      '/sys/fs/cgroup',
    );
  });

  it('says what to do when there is no cgroup2', () => {
    expect(() => cgroup2Root(parseMounts('cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n'))).toThrow(
      /no cgroup2 filesystem is mounted/,
    );
  });

  it('decodes escaped mount paths', () => {
    expect(parseMounts('none /mnt/with\\040space cgroup2 rw 0 0')[0]?.target).toBe(
      '/mnt/with space',
    );
  });
});
