// An answer's body reaches the client whole and counted, the source paused while the
// client's side is full and resumed when it drains.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { passBody } from '../../../agent/src/l7/pass-body.ts';

describe('passBody', () => {
  it('passes every chunk in order, counts them, and pauses the source while the sink is full', async () => {
    const from = new PassThrough();
    const got: Buffer[] = [];
    let release: (() => void) | null = null;
    // A sink of one chunk at a time that completes each write only when told.
    const to = new Writable({
      highWaterMark: 4,
      write(c: Buffer, _enc, cb) {
        got.push(c);
        release = cb;
      },
    });
    const ex = { responseBytes: 0 };
    passBody(from, to, ex);
    from.write(Buffer.from('hello'));
    from.write(Buffer.from('world'));
    const tick = () => new Promise((r) => setImmediate(r));
    const done = () => {
      const cb = release;
      release = null;
      cb?.();
    };
    await tick();
    // 'hello' fills the sink: the source waits, 'world' with it.
    expect(got.map(String)).toEqual(['hello']);
    expect(from.isPaused()).toBe(true);
    done();
    await tick();
    // Drained: the source goes on, and 'world' fills the sink again.
    expect(got.map(String)).toEqual(['hello', 'world']);
    expect(from.isPaused()).toBe(true);
    done();
    await tick();
    expect(from.isPaused()).toBe(false);
    expect(ex.responseBytes).toBe(10);
  });
});
