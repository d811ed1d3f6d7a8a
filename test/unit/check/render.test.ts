import { describe, expect, it } from 'vitest';
import {
  exitCode,
  type Ran,
  renderText,
  runChecks,
  selectChecks,
  toJson,
} from '../../../agent/src/check/index.ts';
import type { Check, CheckResult } from '../../../agent/src/check/types.ts';
import { env, fakeHost } from './fake-host.ts';

const ran = (category: Check['category'], title: string, result: CheckResult): Ran => ({
  check: { id: `${category}.${title.replace(/ /g, '-')}`, title, category, run: () => result },
  result,
});

const sample: Ran[] = [
  ran('kernel', 'kernel BTF is available', { verdict: 'ok', detail: '/sys/kernel/btf/vmlinux' }),
  ran('kernel', 'sk_lookup programs', {
    verdict: 'fail',
    detail: 'kernel 4.19 is older than 5.9',
    hint: 'upgrade the kernel',
  }),
  ran('filesystems', 'bpffs is mounted', {
    verdict: 'warn',
    detail: 'nothing mounted\nat /sys/fs/bpf',
  }),
];

describe('rendering verdicts', () => {
  it('prints sections, a mark per line, details under what is not right, and the count', () => {
    expect(renderText(sample, false)).toBe(`kernel
------
√ kernel BTF is available
× sk_lookup programs
    kernel 4.19 is older than 5.9
    hint: upgrade the kernel

filesystems
-----------
‼ bpffs is mounted
    nothing mounted
    at /sys/fs/bpf

Status check results are ×: 1 of 3 checks failed, with 1 warning
`);
  });

  it('ends with √ when nothing failed', () => {
    const text = renderText([sample[0]!], false);
    expect(text.endsWith('\nStatus check results are √\n')).toBe(true);
    expect(renderText([sample[0]!, sample[2]!], false)).toMatch(
      /\nStatus check results are √, with 1 warning\n$/,
    );
  });

  it('colours only when asked (a TTY)', () => {
    expect(renderText(sample, false)).not.toContain('\x1b[');
    const coloured = renderText(sample, true);
    expect(coloured).toContain('\x1b[32m√\x1b[0m kernel BTF is available');
    expect(coloured).toContain('\x1b[31m×\x1b[0m sk_lookup programs');
    expect(coloured).toContain('\x1b[33m‼\x1b[0m bpffs is mounted');
  });

  it('gives JSON with ok, and per check id, category, verdict, detail and hint', () => {
    const j = toJson(sample);
    expect(j.ok).toBe(false);
    expect(j.checks[1]).toEqual({
      id: 'kernel.sk_lookup-programs',
      category: 'kernel',
      title: 'sk_lookup programs',
      verdict: 'fail',
      detail: 'kernel 4.19 is older than 5.9',
      hint: 'upgrade the kernel',
    });
    expect(j.checks[0]?.hint).toBeNull();
    expect(toJson([sample[0]!, sample[2]!]).ok).toBe(true);
  });

  it('exits 0 with warnings and 1 with any failure', () => {
    expect(exitCode([sample[0]!, sample[2]!])).toBe(0);
    expect(exitCode(sample)).toBe(1);
    expect(exitCode([])).toBe(0);
  });
});

describe('running checks', () => {
  it('turns an unexpected error into that check failing, without a stack', async () => {
    const boom: Check = {
      id: 'x.boom',
      title: 'boom',
      category: 'kernel',
      run() {
        throw new Error('EACCES reading /proc/self/status');
      },
    };
    const after: Check = {
      id: 'x.after',
      title: 'after',
      category: 'kernel',
      run: () => ({ verdict: 'ok', detail: '' }),
    };
    const out = await runChecks([boom, after], env(fakeHost()));
    expect(out.map((r) => r.result)).toEqual([
      { verdict: 'fail', detail: 'EACCES reading /proc/self/status' },
      { verdict: 'ok', detail: '' },
    ]);
  });

  it('runs the agent section only without --pre', () => {
    const objs = ['/b/sock_connect.bpf.o'];
    const pre = selectChecks(true, '/b', objs).map((c) => c.category);
    const full = selectChecks(false, '/b', objs).map((c) => c.category);
    expect(new Set(pre)).toEqual(new Set(['kernel', 'filesystems', 'permissions', 'probes']));
    expect(full.filter((c) => c === 'agent')).toHaveLength(2);
    expect(full.slice(0, pre.length)).toEqual(pre);
  });

  it('passes every check on a healthy fabricated host, and fails the agent lines when none runs', async () => {
    const host = fakeHost();
    const pre = await runChecks(selectChecks(true, '/b', host.bpfObjects('/b')), env(host));
    expect(pre.filter((r) => r.result.verdict !== 'ok')).toEqual([]);
    const full = await runChecks(
      selectChecks(false, '/b', host.bpfObjects('/b')),
      env(host, { pre: false }),
    );
    expect(full.filter((r) => r.result.verdict === 'fail').map((r) => r.check.id)).toEqual([
      'agent.admin',
    ]);
  });
});
