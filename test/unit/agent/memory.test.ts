// Memory handed back when the agent is quiet: the decision, the timer, and the
// addon's malloc_trim against real freed memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RELEASE, releaseDecision, startMemoryReturn } from '../../../agent/src/agent/memory.ts';
import { native } from '../../../agent/src/datapath/index.ts';
import { until } from '../../support/until.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('releaseDecision', () => {
  const quiet = {
    busy: 0.01,
    rss: 200 * MiB,
    heapUsed: 60 * MiB,
    external: 10 * MiB,
    mallocFree: 50 * MiB,
  };
  const never = { rss: 0, heapUsed: 0, external: 0, mallocFree: 0 };

  it('does nothing while the event loop is busy', () => {
    expect(releaseDecision({ ...quiet, busy: RELEASE.quietBusy }, never)).toEqual({
      collect: false,
      trim: false,
    });
  });

  it('collects and trims on the first quiet check', () => {
    expect(releaseDecision(quiet, never)).toEqual({ collect: true, trim: true });
  });

  it('does nothing when the agent has not grown since the last release', () => {
    const last = {
      rss: quiet.rss - RELEASE.minGrowth + 1,
      heapUsed: quiet.heapUsed,
      external: quiet.external,
      mallocFree: quiet.mallocFree - RELEASE.minGrowth + 1,
    };
    expect(releaseDecision(quiet, last)).toEqual({ collect: false, trim: false });
  });

  it('trims when the allocator holds more free memory than after the last trim, RSS unchanged', () => {
    // A trim while connections were open; they closed since: free in the allocator, still resident.
    const last = { ...quiet, mallocFree: quiet.mallocFree - RELEASE.minGrowth };
    expect(releaseDecision(quiet, last)).toEqual({ collect: false, trim: true });
  });

  it('collects as well as trims when the RSS grew, however little garbage the heap shows', () => {
    // Dead sockets' native memory (TLS, HTTP/2) waits for a collection and shows in neither
    // the heap nor external memory.
    const last = { ...quiet, rss: quiet.rss - RELEASE.minGrowth, heapUsed: quiet.heapUsed - MiB };
    expect(releaseDecision(quiet, last)).toEqual({ collect: true, trim: true });
  });

  it('collects when the heap grew by the threshold since the last collection', () => {
    const last = { ...quiet, heapUsed: quiet.heapUsed - RELEASE.minGarbage };
    expect(releaseDecision(quiet, last)).toEqual({ collect: true, trim: true });
  });

  it('collects when Buffers wait for a collection, the RSS and the allocator unchanged', () => {
    const last = { ...quiet, external: quiet.external - RELEASE.minGarbage };
    expect(releaseDecision(quiet, last)).toEqual({ collect: true, trim: true });
  });
});

describe('startMemoryReturn', () => {
  it('releases once when quiet, and again only after the process grew', async () => {
    let trims = 0;
    const m = startMemoryReturn(
      () => {
        trims++;
        return Promise.resolve(true);
      },
      () => 0,
      50,
    );
    try {
      await until('the first release', () => trims === 1);
      expect(m.counts.collections).toBe(1);
      await sleep(300);
      expect(trims).toBe(1);
      // 32 MiB written (resident) and kept: the process grew, the next quiet check releases.
      const held = Buffer.alloc(32 * MiB, 1);
      await until('a release after growth', () => trims === 2);
      expect(held.length).toBe(32 * MiB);
    } finally {
      m.close();
    }
  });
});

describe('native mallocTrim', () => {
  it('gives freed, fragmented C heap memory back to the kernel', async () => {
    const rss = () => process.memoryUsage.rss();
    // 64 MiB in 16 KiB backing stores (malloc, below its mmap threshold), every 16th kept:
    // the freed pages lie between live ones, where glibc does not return them by itself.
    let bufs: Buffer[] | null = [];
    for (let i = 0; i < 4096; i++) bufs.push(Buffer.allocUnsafeSlow(16 * 1024).fill(i));
    const kept = bufs.filter((_, i) => i % 16 === 0);
    bufs = null;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    gc();
    await sleep(200);
    const before = rss();
    // The freed pieces are free chunks, before the trim and after it.
    expect(native().mallocFreeBytes()).toBeGreaterThan(32 * MiB);
    expect(await native().mallocTrim()).toBe(true);
    const after = rss();
    expect(native().mallocFreeBytes()).toBeGreaterThan(32 * MiB);
    expect(kept.length).toBe(256);
    expect(before - after).toBeGreaterThan(16 * MiB);
  });
});
