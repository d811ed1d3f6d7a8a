// The feature probes against the running kernel: everything weft needs is
// found, and a need this kernel does not have is reported by name.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import {
  FEATURES,
  type Feature,
  featureMissingLine,
  missingNeeds,
  requireKernelFeatures,
} from '../../../agent/src/check/features.ts';
import { nativeKernelProbe } from '../../../agent/src/check/host.ts';
import { native } from '../../../agent/src/datapath/index.ts';
import { describePrivileged } from '../../support/privileged.ts';

describePrivileged('kernel feature probes', () => {
  it.each(FEATURES.map((f) => [f.id, f] as const))('finds %s in this kernel', (_id, f) => {
    expect(missingNeeds(f, nativeKernelProbe())).toEqual([]);
  });

  it('lets the agent start on this kernel', () => {
    expect(() => requireKernelFeatures(nativeKernelProbe())).not.toThrow();
  });

  it('reports by name what the kernel lacks', () => {
    // No kernel has these: the real probes answer "absent" and the line names them.
    const future: Feature = {
      id: 'kernel.future',
      title: 'a hook from the future',
      since: '99.0',
      use: 'nothing yet',
      needs: [
        { link: 'BPF_LINK_TYPE_WEFT_FUTURE' },
        { attach: 'BPF_CGROUP_INET4_CONNECT' },
        { helper: 'weft_future', from: 'sk_lookup' },
      ],
    };
    const missing = missingNeeds(future, nativeKernelProbe());
    expect(featureMissingLine(future, missing)).toBe(
      'this kernel lacks a hook from the future (link type BPF_LINK_TYPE_WEFT_FUTURE, helper bpf_weft_future in sk_lookup programs; Linux 99.0+), which weft needs for nothing yet: run Linux 6.1 or newer (tested: 6.1, 6.12)',
    );
  });

  it('probes program and map types by libbpf name and refuses unknown names', () => {
    const n = native();
    expect(n.probeProgType('sk_lookup')).toBe(true);
    expect(n.probeMapType('ringbuf')).toBe(true);
    expect(n.kernelEnumValue('bpf_func_id', 'BPF_FUNC_map_lookup_elem')).toBe(1);
    expect(n.kernelEnumValue('bpf_no_such_enum', 'X')).toBeNull();
    expect(() => n.probeProgType('no_such_type')).toThrow(
      /libbpf knows no program type 'no_such_type'/,
    );
  });

  it('gives the parsed kernel BTF back when released, and parses it again when asked', () => {
    // In a process of its own: the resident memory it reads is its own, not other tests'.
    // Plain JavaScript loading the addon: a child Node stripping TypeScript crashes in the
    // kernel matrix's emulated guests. smaps_rollup walks the page tables; status's RssAnon
    // lags on kernels before 6.2.
    const addon = new URL('../../../build/native/Release/weft_native.node', import.meta.url)
      .pathname;
    const script = `
      import { readFileSync } from 'node:fs';
      import { createRequire } from 'node:module';
      const n = createRequire(import.meta.url)(${JSON.stringify(addon)});
      const anonKiB = () => Number(/^Anonymous:\\s+(\\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]);
      const first = n.kernelEnumValue('bpf_func_id', 'BPF_FUNC_map_lookup_elem');
      const held = anonKiB();
      n.releaseKernelBtf();
      const released = anonKiB();
      n.releaseKernelBtf(); // twice is harmless
      const again = n.kernelEnumValue('bpf_func_id', 'BPF_FUNC_map_lookup_elem');
      console.log(JSON.stringify({ first, again, freedKiB: held - released }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    });
    const out = JSON.parse(r.stdout) as { first: number; again: number; freedKiB: number };
    expect(out.first).toBe(1);
    expect(out.again).toBe(1);
    // The kernel's BTF is about 5 MiB on the kernels weft runs on.
    expect(out.freedKiB).toBeGreaterThan(3 * 1024);
  });
});
