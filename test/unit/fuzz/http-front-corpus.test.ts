// Replays every input the L7 front fuzz target kept (fuzz/corpus/http-front/), and a
// few hand-made ones of the same kinds, through the front as the proxy runs it: none
// may throw, hang, or send the app a malformed head.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { feed } from '../../../fuzz/lib/http-front.ts';

const dir = new URL('../../../fuzz/corpus/http-front/', import.meta.url).pathname;
const kept = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((f) => f.endsWith('.bin'))
  .sort()
  .map((f) => [f, readFileSync(`${dir}${f}`)] as const);

const made: [string, string][] = [
  ['allowed GET', 'GET /items/1 HTTP/1.1\r\nHost: cart\r\n\r\n'],
  [
    'chunk size past 64 bits',
    'POST /items HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n',
  ],
  [
    'gzip, chunked',
    'POST /items HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
  ],
  [
    'chunked, gzip',
    'POST /items HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: chunked, gzip\r\n\r\n1\r\nx\r\n0\r\n\r\n',
  ],
  [
    'CL and TE',
    'POST /items HTTP/1.1\r\nHost: cart\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ],
  [
    'two lengths',
    'POST /items HTTP/1.1\r\nHost: cart\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
  ],
  ['bare LF', 'GET /items/1 HTTP/1.1\nHost: cart\n\n'],
  ['obs-fold', 'GET /items/1 HTTP/1.1\r\nHost: cart\r\n x\r\n\r\n'],
  [
    'header past 16 KiB',
    `GET /items/1 HTTP/1.1\r\nHost: cart\r\nx-big: ${'v'.repeat(20_000)}\r\n\r\n`,
  ],
  ['CONNECT', 'CONNECT cart:8080 HTTP/1.1\r\nHost: cart:8080\r\n\r\n'],
  [
    'upgrade',
    'GET /items/1 HTTP/1.1\r\nHost: cart\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
  ],
  ['body cut short', 'POST /items HTTP/1.1\r\nHost: cart\r\nContent-Length: 100\r\n\r\nab'],
  [
    'pipelined',
    'GET /items/1 HTTP/1.1\r\nHost: cart\r\n\r\nGET /admin HTTP/1.1\r\nHost: cart\r\n\r\nPOST /x HTTP/1.1\r\nHost: cart\r\nContent-Length: 1\r\n\r\nx',
  ],
];

describe('L7 front: the fuzz corpus', () => {
  it.each([...kept, ...made.map(([n, s]) => [n, Buffer.from(s, 'latin1')] as const)])(
    'handles %s',
    async (_name, input) => {
      const o = await feed(input);
      expect(o.defect).toBeUndefined();
    },
  );
});
