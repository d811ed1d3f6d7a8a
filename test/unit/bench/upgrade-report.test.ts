import { describe, expect, it } from 'vitest';
import { upgradeMarkdown, withUpgradeSection } from '../../../bench/upgrade-report.ts';

const figures = {
  machine: {
    cpu: 'CPU',
    cores: 2,
    kernel: '6.1',
    node: 'v24',
    date: '2026-12-07T00:00:00Z',
    loadStart: 5,
    loadEnd: 4,
  },
  conns: 1000,
  messageMs: 100,
  idleMs: [3900],
  loaded: [{ ms: 5500, opened: 1000, broken: 0, refused: 0, stallMs: 577 }],
};

describe('agent upgrade bench report', () => {
  const md = upgradeMarkdown(figures);

  it('states the figures and that the machine was loaded', () => {
    expect(md).toContain('| no traffic | 1 | 3.9 s |');
    expect(md).toContain('| 1,000 open connections | 1 | 5.5 s | 5.5 s | 577 ms | 0 | 0 |');
    expect(md).toContain('the machine was loaded');
  });

  it('adds its section to benchmarks.md once, and replaces it on the next run', () => {
    const page = '# Benchmarks\n\n## Settings\n\nx\n';
    const once = withUpgradeSection(page, md);
    expect(once.startsWith(page.trimEnd())).toBe(true);
    expect(once).toContain('## Agent upgrade');
    const next = withUpgradeSection(once, md.replace('577 ms', '600 ms'));
    expect(next.match(/## Agent upgrade/g)).toHaveLength(1);
    expect(next).toContain('600 ms');
    expect(next).not.toContain('577 ms');
  });
});
