// The L7 path's bounds and framing, on the real front (proxy/inbound-http.ts) over loopback:
// each client connection has one app connection of its own (pipelined requests take it in
// turn), a stalled body is dropped, and a body's transfer codings reach the app as the
// client sent them.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { DEFAULT_INBOUND_LIMITS as HTTP_LIMITS } from '../../../agent/src/l7/inbound-bounds.ts';
import { type HttpFront, startHttpFront } from '../../support/http-front.ts';

let front: HttpFront | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients) c.destroy();
  await front?.close();
});

/** A front whose destination side has these bounds (the rest default). */
const bounded = (
  limits: Partial<typeof HTTP_LIMITS>,
  handler: Parameters<typeof startHttpFront>[0],
) => startHttpFront(handler, undefined, null, null, limits);

function client(port: number): Socket & { gone: Promise<void> } {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  clients.push(s);
  const gone = new Promise<void>((resolve) => s.once('close', () => resolve()));
  return Object.assign(s, { gone });
}

/** Reads from s until `pred` holds for everything read so far (or the socket ends). */
function readUntil(s: Socket, pred: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const check = () => {
      if (pred(text)) resolve(text);
    };
    s.on('data', (d) => {
      text += d;
      check();
    });
    s.on('close', () => resolve(text));
  });
}

const until = async (pred: () => boolean) => {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('L7 path bounds', () => {
  it('sends 200 pipelined GETs over one app connection, one at a time, answering all in order', async () => {
    let open = 0;
    let most = 0;
    front = await startHttpFront((req, res) => {
      open++;
      most = Math.max(most, open);
      // Answered a little later, so pipelined requests would overlap if let through.
      setTimeout(() => {
        open--;
        res.end(`r${req.url?.slice(1)}\n`);
      }, 2);
    });
    const s = client(front.port);
    const n = 200;
    s.write(Array.from({ length: n }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join(''));
    const text = await readUntil(s, (t) => t.includes(`r${n - 1}\n`));
    const bodies = [...text.matchAll(/\r\n\r\n(r\d+)\n/g)].map((m) => m[1]);
    expect(bodies).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
    expect(front.app.accepted).toBe(1);
    expect(most).toBe(1);
  });

  it('cuts off a client that pipelines deeper than queuedPerClient without reading', async () => {
    // Never answers: every turn stays taken.
    front = await bounded({ queuedPerClient: 4 }, () => {});
    const s = client(front.port);
    s.write(Array.from({ length: 20 }, () => 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').join(''));
    await s.gone;
    expect(front.app.accepted).toBe(1);
  });

  it('keeps each destination side to its own bounds (one per node proxy)', async () => {
    // Neither app answers: every turn stays taken.
    front = await bounded({ queuedPerClient: 4 }, () => {});
    const beside = await startHttpFront(() => {});
    try {
      const pipelined = Array.from({ length: 20 }, () => 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      const cut = client(front.port);
      const kept = client(beside.port);
      let keptGone = false;
      void kept.gone.then(() => {
        keptGone = true;
      });
      cut.write(pipelined.join(''));
      kept.write(pipelined.join(''));
      await cut.gone;
      await until(() => beside.app.accepted === 1);
      expect(beside.app.accepted).toBe(1);
      expect(keptGone).toBe(false);
    } finally {
      await beside.close();
    }
  });

  it('drops a request whose body stops coming, with its app connection', async () => {
    let got = '';
    front = await bounded({ bodyIdleMs: 500 }, (req) => {
      req.on('data', (d) => {
        got += d;
      });
    });
    const s = client(front.port);
    s.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhi');
    await until(() => got === 'hi');
    expect(front.app.open).toBe(1);
    const f = front;
    await until(() => f.app.open === 0);
    expect(front.app.open).toBe(0);
    await s.gone;
  });

  it('lets a slow but moving body through', async () => {
    front = await bounded({ bodyIdleMs: 300 }, (req, res) => {
      let n = 0;
      req.on('data', (d) => {
        n += d.length;
      });
      req.on('end', () => res.end(`got ${n}\n`));
    });
    const s = client(front.port);
    s.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n');
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 150));
      s.write('x');
    }
    expect(await readUntil(s, (t) => t.includes('got 5'))).toContain('got 5');
  });
});

describe('L7 path app connections', () => {
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
  const answered = (s: Socket, n: number) =>
    readUntil(s, (t) => (t.match(/ from \d+\n/g) ?? []).length >= n);
  /** An app that says which of its connections carried each request. */
  const byConnection = () => {
    const ids = new WeakMap<object, number>();
    let next = 0;
    return (req: IncomingMessage, res: ServerResponse) => {
      let id = ids.get(req.socket);
      if (id === undefined) {
        id = ++next;
        ids.set(req.socket, id);
      }
      res.end(`${req.url} from ${id}\n`);
    };
  };

  it('keeps each client connection on an app connection of its own, kept alive across its requests', async () => {
    front = await startHttpFront(byConnection());
    const a = client(front.port);
    const b = client(front.port);
    let ta = '';
    let tb = '';
    for (let i = 0; i < 5; i++) {
      const wa = answered(a, 1);
      a.write(get(`/a${i}`));
      ta += await wa;
      const wb = answered(b, 1);
      b.write(get(`/b${i}`));
      tb += await wb;
    }
    const from = (t: string) => new Set([...t.matchAll(/ from (\d+)\n/g)].map((m) => m[1]));
    // Five requests each, two app connections: never one client's request on the other's.
    expect(front.app.accepted).toBe(2);
    expect(from(ta).size).toBe(1);
    expect(from(tb).size).toBe(1);
    expect([...from(ta)][0]).not.toBe([...from(tb)][0]);
  });

  it('closes the app connection with its client connection', async () => {
    front = await startHttpFront(byConnection());
    const s = client(front.port);
    s.write(get('/x'));
    await answered(s, 1);
    expect(front.app.open).toBe(1);
    s.end();
    await s.gone;
    const f = front;
    await until(() => f.app.open === 0);
    expect(front.app.open).toBe(0);
  });

  it('dials the app anew after it closed the connection, and answers every request', async () => {
    let n = 0;
    front = await startHttpFront((req, res) => {
      // Every other answer closes its connection.
      if (++n % 2 === 1) res.setHeader('connection', 'close');
      res.end(`${req.url} from ${n}\n`);
    });
    const s = client(front.port);
    let text = '';
    for (let i = 0; i < 4; i++) {
      const w = answered(s, 1);
      s.write(get(`/${i}`));
      text += await w;
    }
    expect(text.match(/200 OK/g)?.length).toBe(4);
    // Answers 1 and 3 closed theirs: 1 | 2, 3 | 4.
    expect(front.app.accepted).toBe(3);
  });

  it('answers 502 when the app refuses, and serves the next request once it listens', async () => {
    front = await startHttpFront(byConnection());
    const f = front;
    const s = client(f.port);
    const w = readUntil(s, (t) => t.includes('502'));
    f.app.refuse(true);
    s.write(get('/down'));
    expect(await w).toContain('HTTP/1.1 502');
    f.app.refuse(false);
    s.write(get('/up'));
    expect(await answered(s, 1)).toContain('/up from 1');
  });
});

describe('L7 path containment', () => {
  it('costs a request handler that throws its connection only', async () => {
    front = await startHttpFront(
      (_req, res) => res.end('ok\n'),
      (req) => {
        if (req.path === '/boom') throw new Error('a bug');
        return { allow: true, stage: 'AuthorizationPolicy', reason: 'allowed' };
      },
    );
    const bad = client(front.port);
    bad.write('GET /boom HTTP/1.1\r\nHost: a\r\n\r\n');
    await bad.gone;
    const good = client(front.port);
    good.write('GET /fine HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(await readUntil(good, (t) => t.includes('ok\n'))).toContain('200 OK');
  });
});

describe('L7 path framing', () => {
  it('keeps the gzip coding of a gzip, chunked body', async () => {
    const seen: { te?: string; body: Buffer }[] = [];
    front = await startHttpFront((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        seen.push({ te: req.headers['transfer-encoding'], body: Buffer.concat(parts) });
        res.end('ok\n');
      });
    });
    const gz = gzipSync('hello weft');
    const s = client(front.port);
    s.write(
      Buffer.concat([
        Buffer.from(
          `POST /g HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${gz.length.toString(16)}\r\n`,
        ),
        gz,
        Buffer.from('\r\n0\r\n\r\n'),
      ]),
    );
    await readUntil(s, (t) => t.includes('ok\n'));
    expect(seen).toEqual([{ te: 'gzip, chunked', body: gz }]);
  });

  it('keeps the gzip coding of an answer the app sends gzip, chunked', async () => {
    const gz = gzipSync('hello client');
    front = await startHttpFront((_req, res) => {
      res.setHeader('transfer-encoding', 'gzip, chunked');
      res.end(gz);
    });
    const s = client(front.port);
    s.write('GET /g HTTP/1.1\r\nHost: a\r\n\r\n');
    const text = await readUntil(s, (t) => t.includes('\r\n0\r\n\r\n'));
    expect(text.toLowerCase()).toContain('\r\ntransfer-encoding: gzip, chunked\r\n');
  });
});
