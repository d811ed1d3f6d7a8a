// How a join buffers: the node proxy raises Node's 16 KiB high-water mark so
// one 64 KiB socket read never pauses the reader, and bulk chunks of one
// event-loop turn leave in one writev (docs/performance.md). In-memory
// streams; no sockets.
import { Duplex, getDefaultHighWaterMark, setDefaultHighWaterMark } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProxy } from '../../../agent/src/proxy/index.ts';
import {
  BATCH_MIN,
  JOIN_HIGH_WATER_MARK,
  join,
  streamHighWaterMark,
} from '../../../agent/src/proxy/pipe.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';

const before = getDefaultHighWaterMark(false);
afterAll(() => setDefaultHighWaterMark(false, before));

/**
 * A source we push into, joined to a sink that records each write call's chunk sizes
 * and completes writes only when told (stall: never).
 */
async function joined(stall: boolean) {
  const calls: number[][] = [];
  const source = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const sink = new Duplex({
    read() {},
    write(c: Buffer, _e, cb) {
      calls.push([c.length]);
      if (!stall) cb();
    },
    writev(cs, cb) {
      calls.push(cs.map((c) => (c.chunk as Buffer).length));
      if (!stall) cb();
    },
  });
  join(source, sink, new DirectionStats());
  // The join's 'data' listener starts the flow on the next tick.
  await new Promise((r) => process.nextTick(r));
  return { source, sink, calls };
}

/** Bytes the sink took before the join paused the source, pushing 64 KiB reads. */
async function acceptedBeforePause(): Promise<number> {
  const { source, sink } = await joined(true);
  const chunk = Buffer.alloc(64 * 1024);
  let pushed = 0;
  while (!source.isPaused() && pushed < 16 * 1024 * 1024) {
    source.push(chunk);
    pushed += chunk.length;
  }
  return sink.writableLength;
}

const turn = () => new Promise((r) => setImmediate(r));

describe('join buffering', () => {
  it('pauses after the first read with Node defaults', async () => {
    setDefaultHighWaterMark(false, 16 * 1024);
    expect(await acceptedBeforePause()).toBe(64 * 1024);
  });

  it('takes 256 KiB before pausing once the node proxy runs', async () => {
    new NodeProxy({ lookup: () => undefined, trustDomain: 'cluster.local' });
    expect(getDefaultHighWaterMark(false)).toBe(JOIN_HIGH_WATER_MARK);
    expect(JOIN_HIGH_WATER_MARK).toBe(256 * 1024);
    expect(await acceptedBeforePause()).toBe(JOIN_HIGH_WATER_MARK);
  });

  it('reads WEFT_STREAM_HIGH_WATER_MARK in bytes and names it when it is wrong', () => {
    expect(streamHighWaterMark({})).toBe(JOIN_HIGH_WATER_MARK);
    expect(streamHighWaterMark({ WEFT_STREAM_HIGH_WATER_MARK: '1048576' })).toBe(1048576);
    for (const bad of ['1k', '100', '-1', String(64 * 1024 * 1024)]) {
      expect(() => streamHighWaterMark({ WEFT_STREAM_HIGH_WATER_MARK: bad })).toThrow(
        /WEFT_STREAM_HIGH_WATER_MARK=.*expected bytes from 16384/,
      );
    }
  });

  it('writes the bulk chunks of one loop turn as one writev', async () => {
    const { source, calls } = await joined(false);
    for (let i = 0; i < 5; i++) source.push(Buffer.alloc(16 * 1024));
    expect(calls).toEqual([]);
    await turn();
    expect(calls).toEqual([[16384, 16384, 16384, 16384, 16384]]);
    // The next turn batches again.
    source.push(Buffer.alloc(BATCH_MIN));
    source.push(Buffer.alloc(10));
    await turn();
    expect(calls.slice(1)).toEqual([[BATCH_MIN, 10]]);
  });

  it('lets the held chunks out before a reset, and before an end', async () => {
    const source = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const events: string[] = [];
    const sink = new Duplex({
      read() {},
      write(c: Buffer, _e, cb) {
        events.push(`write ${c.length}`);
        cb();
      },
      writev(cs, cb) {
        events.push(`writev ${cs.map((c) => (c.chunk as Buffer).length).join(',')}`);
        cb();
      },
    });
    join(source, sink, new DirectionStats(), undefined, () => events.push('reset'));
    await new Promise((r) => process.nextTick(r));
    for (let i = 0; i < 3; i++) source.push(Buffer.alloc(16 * 1024));
    source.destroy(); // abrupt: the other side is reset
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['writev 16384,16384,16384', 'reset']);

    const { source: s2, calls } = await joined(false);
    s2.push(Buffer.alloc(16 * 1024));
    s2.push(Buffer.alloc(16 * 1024));
    s2.push(null); // a clean end flushes first
    await turn();
    expect(calls).toEqual([[16384, 16384]]);
  });

  it('writes small chunks at once, one by one', async () => {
    const { source, calls } = await joined(false);
    source.push(Buffer.from('ping'));
    expect(calls).toEqual([[4]]);
    source.push(Buffer.alloc(BATCH_MIN - 1));
    expect(calls).toEqual([[4], [BATCH_MIN - 1]]);
  });
});
