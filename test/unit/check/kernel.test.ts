import { describe, expect, it } from 'vitest';
import { atLeast, kernelChecks, parseRelease } from '../../../agent/src/check/kernel.ts';
import { fakeHost, judge } from './fake-host.ts';

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

  it('fails sk_lookup on 4.19 with a hint naming 5.9', async () => {
    const r = await judge(kernelChecks, 'kernel.sk-lookup', onKernel('4.19.0-26-amd64'));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('kernel 4.19 is older than 5.9');
    expect(r.hint).toMatch(/kernel 5\.9 or newer for steering plaintext inbound/);
  });

  it('judges each feature by its own minimum', async () => {
    const host = onKernel('5.8.0-63-generic');
    const verdicts = Object.fromEntries(
      await Promise.all(
        kernelChecks.map(async (c) => [
          c.id,
          (await c.run({ host, options: {} as never })).verdict,
        ]),
      ),
    );
    expect(verdicts).toEqual({
      'kernel.release': 'ok',
      'kernel.btf': 'ok',
      'kernel.cgroup-links': 'ok',
      'kernel.getpeername': 'ok',
      'kernel.ringbuf': 'ok',
      'kernel.sk-lookup': 'fail',
      'kernel.sockmap': 'ok',
    });
    expect((await judge(kernelChecks, 'kernel.cgroup-links', onKernel('5.4.0-1'))).verdict).toBe(
      'fail',
    );
    expect((await judge(kernelChecks, 'kernel.getpeername', onKernel('5.7.19'))).hint).toMatch(
      /5\.8 or newer/,
    );
  });

  it('names the release and the minimum when it is new enough', async () => {
    const r = await judge(kernelChecks, 'kernel.sk-lookup', onKernel('6.1.0-18-amd64'));
    expect(r).toEqual({ verdict: 'ok', detail: '6.1 ≥ 5.9' });
    expect(kernelChecks.find((c) => c.id === 'kernel.sk-lookup')?.title).toBe(
      'sk_lookup programs (kernel ≥ 5.9)',
    );
  });

  it('leaves an unreadable release to the load probes', async () => {
    const host = onKernel('custom-build');
    expect((await judge(kernelChecks, 'kernel.release', host)).verdict).toBe('fail');
    const r = await judge(kernelChecks, 'kernel.ringbuf', host);
    expect(r.verdict).toBe('warn');
    expect(r.hint).toMatch(/load probes/);
  });

  it('fails without kernel BTF and says which config builds it', async () => {
    const r = await judge(kernelChecks, 'kernel.btf', fakeHost({ exists: () => false }));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('/sys/kernel/btf/vmlinux is missing');
    expect(r.hint).toMatch(/CONFIG_DEBUG_INFO_BTF=y/);
  });
});
