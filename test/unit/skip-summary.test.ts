import { describe, expect, it } from 'vitest';
import { skipSummary } from '../../scripts/skip-summary.ts';

const a = (status: string, ...ancestorTitles: string[]) => ({ status, ancestorTitles });

describe('make test skip line', () => {
  it('says nothing when nothing was skipped', () => {
    expect(skipSummary({ testResults: [{ assertionResults: [a('passed', 'x')] }] })).toBeNull();
  });

  it('counts skipped tests by the reason their suite names, in one line', () => {
    const line = skipSummary({
      testResults: [
        {
          assertionResults: [
            a('pending', 'BPF objects (skipped: not root)'),
            a('pending', 'BPF objects (skipped: not root)', 'inner'),
            a('passed', 'unit'),
          ],
        },
        {
          assertionResults: [
            a('pending', 'sandbox (skipped: kernel has no BTF (/sys/kernel/btf/vmlinux))'),
            a('todo', 'later'),
          ],
        },
      ],
    });
    expect(line).toBe(
      'skipped 4 tests: 2 not root (sudo make test runs them); 1 kernel has no BTF (/sys/kernel/btf/vmlinux); 1 marked skip or todo in the test',
    );
    expect(line?.split('\n')).toHaveLength(1);
  });
});
