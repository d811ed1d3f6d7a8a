// Which headers the L7 engine passes on: the message's, not the hop's (`te: trailers` is end to end).
import { describe, expect, it } from 'vitest';
import { endToEnd } from '../../../agent/src/l7/headers.ts';

describe('endToEnd', () => {
  it('drops hop-by-hop headers and those the Connection header names, keeps the rest', () => {
    expect(
      endToEnd({
        host: 'cart',
        connection: 'close, X-Trace-Hop',
        'x-trace-hop': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-connection': 'keep-alive',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'text/plain',
      }),
    ).toEqual({
      host: 'cart',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
      te: 'trailers',
    });
  });
});
