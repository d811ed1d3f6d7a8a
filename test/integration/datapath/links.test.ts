// A pinned link outlives every fd (an agent restart relies on it), reopens
// from its pin with what it is attached to, and detaches once unpinned.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  attachCgroup,
  attachedPrograms,
  cgroupId,
  Link,
  type LoadedObject,
  loadObject,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

describePrivileged('links', () => {
  let rig: Rig;
  let cg: string;
  let pins: string;
  let obj: LoadedObject;

  beforeAll(() => {
    rig = makeRig('links');
    cg = rig.cgroup('pod');
    pins = rig.pinDir();
    obj = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`);
    rig.cleanup.add('object', () => obj.close());
  });
  afterAll(() => rig.teardown());

  it('stays attached through a pin after the fds and the object are gone', () => {
    const prog = obj.program('weft_connect4');
    const link = attachCgroup(prog, cg);
    link.pin(`${pins}/connect4`);
    prog.close();
    link.close();
    obj.close();
    expect(attachedPrograms(cg, 'cgroup_inet4_connect')).toHaveLength(1);
  });

  it('reopens from the pin and says where it is attached', () => {
    const link = Link.openPinned(`${pins}/connect4`);
    try {
      expect(link.info()).toMatchObject({
        type: 'cgroup',
        attachType: 'cgroup_inet4_connect',
        cgroupId: cgroupId(cg),
      });
    } finally {
      link.close();
    }
  });

  it('detaches once unpinned', async () => {
    Link.unpin(`${pins}/connect4`);
    // The kernel frees a link whose last reference was a pin from a work queue, a moment later.
    await expect
      .poll(() => attachedPrograms(cg, 'cgroup_inet4_connect'), { timeout: 2000 })
      .toEqual([]);
  });

  it('detaches at once with detach(), even while pinned', () => {
    const o = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`);
    const prog = o.program('weft_connect6');
    const link = attachCgroup(prog, cg);
    link.pin(`${pins}/connect6`);
    prog.close();
    o.close();
    expect(attachedPrograms(cg, 'cgroup_inet6_connect')).toHaveLength(1);
    link.detach();
    expect(attachedPrograms(cg, 'cgroup_inet6_connect')).toEqual([]);
    Link.unpin(`${pins}/connect6`);
  });
});
