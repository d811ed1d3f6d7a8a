import { describe, expect, it } from 'vitest';
import { escapeXml, renderChart } from '../../../bench/chart-svg.ts';
import { sampleRows } from './fixtures.ts';

/** Every opened element is closed in order (the SVG is well-formed as far as tags go). */
function tagsBalance(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

const widths = (svg: string, color: string) =>
  [
    ...svg.matchAll(
      new RegExp(
        `<rect x="[\\d.]+" y="[\\d.]+" width="([\\d.]+)" height="11" fill="${color}"`,
        'g',
      ),
    ),
  ].map((m) => Number(m[1]));

describe('benchmark chart', () => {
  const svg = renderChart(sampleRows(), '2 × CPU <model>, 2026-12-01');

  it('is a well-formed SVG document', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(tagsBalance(svg)).toBe(true);
    expect(svg).toMatch(/width="(\d+)" height="(\d+)" viewBox="0 0 \1 \2"/);
  });

  it('escapes labels and caption', () => {
    expect(svg).toContain('nginx mTLS &lt;pair&gt; &amp; co');
    expect(svg).toContain('2 × CPU &lt;model&gt;, 2026-12-01');
    expect(svg).not.toContain('<pair>');
    expect(escapeXml('a"b')).toBe('a&quot;b');
  });

  it('scales each column to its largest value', () => {
    // Direct (grey): TCP throughput 1000 is the column's largest: full width; its
    // p50/p99 (100, 200) against the largest p99 (650).
    const grey = widths(svg, '#7a7a7a');
    expect(grey[0]).toBe(150);
    expect(grey[1]).toBeCloseTo((100 / 650) * 150, 0);
    expect(grey[2]).toBeCloseTo((200 / 650) * 150, 0);
    // weft mTLS: throughput 250 of 1000.
    expect(widths(svg, '#2b6cb0')[0]).toBeCloseTo(37.5, 1);
  });

  it('labels throughput with its share of direct and marks a failed figure', () => {
    expect(svg).toContain('>250 (25%)<');
    expect(svg).toContain('>10,000 (25%)<');
    expect(svg.match(/class="f">failed</g)).toHaveLength(1);
  });

  it('draws only the sections it has rows for', () => {
    const onlyHttp = renderChart(
      sampleRows().filter((r) => r.id === 'nginx'),
      'x',
    );
    expect(onlyHttp).toContain('HTTP (wrk, keep-alive)');
    expect(onlyHttp).not.toContain('TCP, one connection');
  });
});
