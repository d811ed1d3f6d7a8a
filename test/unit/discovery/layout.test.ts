import { describe, expect, it } from 'vitest';
import {
  cgroupUid,
  isRuntimeHelperCgroup,
  kubeletLayout,
  kubeletPodUid,
  parseQosClass,
  podCgroupCandidates,
} from '../../../agent/src/discovery/index.ts';

const UID = '0d5a1c2e-7f3b-4b8a-9c1d-2e3f4a5b6c7d';
const U_ = '0d5a1c2e_7f3b_4b8a_9c1d_2e3f4a5b6c7d';

describe('podCgroupCandidates', () => {
  it('names the systemd and cgroupfs paths for each QoS class', () => {
    const paths = (qos: 'Guaranteed' | 'Burstable' | 'BestEffort') =>
      podCgroupCandidates(UID, qos).map((c) => c.path);
    expect(paths('Burstable')).toEqual([
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice`,
      `kubepods/burstable/pod${UID}`,
      `kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${U_}.slice`,
      `kubelet/kubepods/burstable/pod${UID}`,
    ]);
    expect(paths('BestEffort').slice(0, 2)).toEqual([
      `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice`,
      `kubepods/besteffort/pod${UID}`,
    ]);
    // Guaranteed pods sit right under kubepods: there is no guaranteed level.
    expect(paths('Guaranteed').slice(0, 2)).toEqual([
      `kubepods.slice/kubepods-pod${U_}.slice`,
      `kubepods/pod${UID}`,
    ]);
  });

  it('takes configured kubepods directories, the driver read from the name', () => {
    const c = podCgroupCandidates(UID, 'Burstable', [
      kubeletLayout('/system.slice/k3s.service/kubepods/'),
      kubeletLayout('system.slice/docker-ab12.scope/kubelet.slice/kubelet-kubepods.slice'),
    ]);
    expect(c).toEqual([
      {
        layout: 'cgroupfs system.slice/k3s.service/kubepods',
        path: `system.slice/k3s.service/kubepods/burstable/pod${UID}`,
      },
      {
        layout: 'systemd system.slice/docker-ab12.scope/kubelet.slice/kubelet-kubepods.slice',
        path: `system.slice/docker-ab12.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${U_}.slice`,
      },
    ]);
  });

  it('refuses a uid that would be a path', () => {
    expect(() => podCgroupCandidates('../../etc', 'Burstable')).toThrow(/pod uid "..\/..\/etc"/);
    expect(() => podCgroupCandidates('', 'Burstable')).toThrow(/pod uid ""/);
  });
});

describe('names', () => {
  it('reads a pod uid back from either driver, and nothing from other names', () => {
    expect(kubeletPodUid(`kubepods-burstable-pod${U_}.slice`)).toBe(UID);
    expect(kubeletPodUid(`kubelet-kubepods-pod${U_}.slice`)).toBe(UID);
    expect(kubeletPodUid(`pod${UID}`)).toBe(UID);
    const hash = '6f1e3c0b9a8d7e6f5a4b3c2d1e0f9a8b';
    expect(kubeletPodUid(`pod${hash}`)).toBe(hash);
    for (const n of [
      'kubepods-burstable.slice',
      'podman.service',
      'pod',
      `cri-containerd-${hash}.scope`,
    ])
      expect(kubeletPodUid(n)).toBeUndefined();
  });

  it('tells CRI-O conmon cgroups from containers', () => {
    expect(isRuntimeHelperCgroup('crio-conmon-abc.scope')).toBe(true);
    expect(isRuntimeHelperCgroup('crio-conmon-abc')).toBe(true);
    expect(isRuntimeHelperCgroup('crio-abc.scope')).toBe(false);
    expect(isRuntimeHelperCgroup('cri-containerd-abc.scope')).toBe(false);
  });

  it('uses the mirror annotation for static pods', () => {
    expect(cgroupUid({ uid: UID })).toBe(UID);
    expect(cgroupUid({ uid: UID, annotations: { 'kubernetes.io/config.mirror': 'abc123' } })).toBe(
      'abc123',
    );
  });

  it('checks status.qosClass', () => {
    expect(parseQosClass('BestEffort')).toBe('BestEffort');
    expect(() => parseQosClass(undefined, 'Pod shop/a')).toThrow(
      'Pod shop/a: status.qosClass is undefined, expected one of Guaranteed, Burstable, BestEffort',
    );
  });
});
