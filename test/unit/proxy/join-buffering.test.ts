// How much a join buffers before it pauses its source: the node proxy raises
// Node's 16 KiB default so one 64 KiB socket read never pauses the reader
// (docs/performance.md). In-memory streams; no sockets.
import { Duplex, getDefaultHighWaterMark, setDefaultHighWaterMark } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProxy } from '../../../agent/src/proxy/index.ts';
import { JOIN_HIGH_WATER_MARK, join } from '../../../agent/src/proxy/pipe.ts';
import { DirectionStats } from '../../../agent/src/proxy/stats.ts';

const before = getDefaultHighWaterMark(false);
afterAll(() => setDefaultHighWaterMark(false, before));

/** A source we push into, and a sink whose writes never complete (a reader that stalls). */
function pair() {
  const source = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const sink = new Duplex({ read() {}, write() {} });
  return { source, sink };
}

/** Bytes the sink took before the join paused the source, pushing 64 KiB reads. */
async function acceptedBeforePause(): Promise<number> {
  const { source, sink } = pair();
  join(source, sink, new DirectionStats());
  // The join's 'data' listener starts the flow on the next tick.
  await new Promise((r) => process.nextTick(r));
  const chunk = Buffer.alloc(64 * 1024);
  let pushed = 0;
  while (!source.isPaused() && pushed < 16 * 1024 * 1024) {
    source.push(chunk);
    pushed += chunk.length;
  }
  return sink.writableLength;
}

describe('join buffering', () => {
  it('pauses after the first read with Node defaults', async () => {
    setDefaultHighWaterMark(false, 16 * 1024);
    expect(await acceptedBeforePause()).toBe(64 * 1024);
  });

  it('takes a quarter MiB before pausing once the node proxy runs', async () => {
    new NodeProxy({ lookup: () => undefined, trustDomain: 'cluster.local' });
    expect(getDefaultHighWaterMark(false)).toBe(JOIN_HIGH_WATER_MARK);
    expect(await acceptedBeforePause()).toBe(JOIN_HIGH_WATER_MARK);
  });
});
