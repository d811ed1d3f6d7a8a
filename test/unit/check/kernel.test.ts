import { describe, expect, it } from 'vitest';
import { requireKernelFeatures } from '../../../agent/src/check/features.ts';
import { atLeast, kernelChecks, parseRelease } from '../../../agent/src/check/kernel.ts';
import { fakeHost, fakeKernel, judge } from './fake-host.ts';

const onKernel = (release: string) => fakeHost({ kernelRelease: () => release });

describe('kernel release', () => {
  it('reads distribution releases', () => {
    expect(parseRelease('6.1.0-18-amd64')).toEqual({ major: 6, minor: 1, patch: 0 });
    expect(parseRelease('5.15.153.1-microsoft-standard-WSL2')).toEqual({
      major: 5,
      minor: 15,
      patch: 153,
    });
    expect(parseRelease('4.18.0-553.el8_10.x86_64')).toEqual({ major: 4, minor: 18, patch: 0 });
    expect(parseRelease('6.8')).toEqual({ major: 6, minor: 8, patch: 0 });
    expect(parseRelease('unknown')).toBeNull();
  });

  it('compares major before minor', () => {
    expect(atLeast({ major: 6, minor: 0, patch: 0 }, 5, 9)).toBe(true);
    expect(atLeast({ major: 5, minor: 10, patch: 0 }, 5, 9)).toBe(true);
    expect(atLeast({ major: 5, minor: 8, patch: 99 }, 5, 9)).toBe(false);
    expect(atLeast({ major: 4, minor: 19, patch: 0 }, 5, 9)).toBe(false);
  });

  it('reports a kernel without sk_lookup by the feature name and the tested minimum', async () => {
    const host = fakeHost({ kernel: () => fakeKernel(['sk_lookup']) });
    const r = await judge(kernelChecks, 'kernel.sk-lookup', host);
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe(
      'this kernel lacks sk_lookup programs (program type sk_lookup; Linux 5.9+), which weft needs for steering plaintext inbound connections to the proxy (ingress policy, strict mTLS): run Linux 6.1 or newer (tested: 6.1, 6.12)',
    );
    expect(r.detail.split('\n')).toHaveLength(1);
  });

  it('judges each feature by its own probes, not the release', async () => {
    // A 5.4 release with getpeername backported: the probes say what is there.
    const host = fakeHost({
      kernelRelease: () => '5.4.0-1-vendor',
      kernel: () => fakeKernel(['BPF_LINK_TYPE_NETNS', 'BPF_FUNC_ringbuf_reserve']),
    });
    const verdicts = Object.fromEntries(
      await Promise.all(
        kernelChecks.map(async (c) => [
          c.id,
          (await c.run({ host, options: {} as never })).verdict,
        ]),
      ),
    );
    expect(verdicts).toEqual({
      'kernel.release': 'warn',
      'kernel.btf': 'ok',
      'kernel.sock-addr': 'ok',
      'kernel.cgroup-links': 'ok',
      'kernel.getpeername': 'ok',
      'kernel.ringbuf': 'fail',
      'kernel.sk-lookup': 'fail',
      'kernel.sockmap': 'ok',
    });
    expect((await judge(kernelChecks, 'kernel.ringbuf', host)).detail).toMatch(
      /^this kernel lacks BPF ring buffer \(helper bpf_ringbuf_reserve in cgroup_sock_addr programs; Linux 5\.8\+\)/,
    );
    expect((await judge(kernelChecks, 'kernel.sk-lookup', host)).detail).toMatch(
      /\(link type BPF_LINK_TYPE_NETNS; Linux 5\.9\+\)/,
    );
  });

  it('lists what it probed when the feature is there', async () => {
    const r = await judge(kernelChecks, 'kernel.sk-lookup', fakeHost());
    expect(r).toEqual({
      verdict: 'ok',
      detail:
        'program type sk_lookup, link type BPF_LINK_TYPE_NETNS, helper bpf_sk_assign in sk_lookup programs',
    });
    expect(kernelChecks.find((c) => c.id === 'kernel.sk-lookup')?.title).toBe(
      'sk_lookup programs (Linux 5.9+)',
    );
  });

  it('fails a feature check, not the run, when the kernel cannot be probed', async () => {
    const host = fakeHost({
      kernel: () => {
        throw new Error('weft native addon not built');
      },
    });
    const r = await judge(kernelChecks, 'kernel.ringbuf', host);
    expect(r.verdict).toBe('fail');
    expect(r.detail).toMatch(/cannot probe the kernel: weft native addon not built/);
    expect((await judge(kernelChecks, 'kernel.release', onKernel('custom-build'))).verdict).toBe(
      'fail',
    );
  });

  it('does not take an unprivileged probe failure for a missing feature', async () => {
    const host = fakeHost({
      capabilities: () => new Set(),
      kernel: () => fakeKernel(['sk_lookup']),
    });
    const r = await judge(kernelChecks, 'kernel.sk-lookup', host);
    expect(r.verdict).toBe('warn');
    expect(r.detail).toBe('not probed: loading probe programs needs CAP_BPF or CAP_SYS_ADMIN');
  });

  it('refuses the agent on the first missing feature, in one line', () => {
    expect(() => requireKernelFeatures(fakeKernel())).not.toThrow();
    expect(() => requireKernelFeatures(fakeKernel(['BPF_CGROUP_INET4_GETPEERNAME']))).toThrow(
      /^this kernel lacks cgroup getpeername hooks \(attach type BPF_CGROUP_INET4_GETPEERNAME; Linux 5\.8\+\), which weft needs for showing apps their original peer after a redirect: run Linux 6\.1 or newer \(tested: 6\.1, 6\.12\)$/,
    );
  });

  it('fails without kernel BTF and says which config builds it', async () => {
    const r = await judge(kernelChecks, 'kernel.btf', fakeHost({ exists: () => false }));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('/sys/kernel/btf/vmlinux is missing');
    expect(r.hint).toMatch(/CONFIG_DEBUG_INFO_BTF=y/);
  });
});
