// Replays the HBONE front's fuzz corpus (fuzz/corpus/hbone-front/): every input
// that once found a defect must meet the fuzz target's invariants, and those
// kept for admitting a client address not of the peer's identity are refused.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkConnect } from '../../../agent/src/proxy/hbone/front.ts';
import { CONTEXT, type FrontInput, violation } from '../../../fuzz/hbone-front.check.ts';

const dir = 'fuzz/corpus/hbone-front';
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('HBONE front fuzz corpus', () => {
  it('has inputs', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  it.each(files)('%s', (f) => {
    const input = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as FrontInput;
    expect(violation(input)).toBeUndefined();
    expect(checkConnect(input.headers, input.peer, CONTEXT).ok).toBe(false);
  });
});
