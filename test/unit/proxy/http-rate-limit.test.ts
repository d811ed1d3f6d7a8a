// The destination's rate limit on the real front (l7/inbound.ts) over loopback: allowed
// requests reach the app, the excess is answered 429 with Retry-After on HTTP/1.1 and
// HTTP/2, RESOURCE_EXHAUSTED on gRPC, without reaching the app.
import { request } from 'node:http';
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimitTable } from '../../../agent/src/tables/rate-limits.ts';
import { type HttpFront, startHttpFront } from '../../support/http-front.ts';

let front: HttpFront | undefined;
afterEach(async () => {
  await front?.close();
});

const table: RateLimitTable = {
  policy: 'shop/limit',
  key: 'test-identity-1',
  total: null,
  identity: 1,
  overrides: new Map(),
  overrideRates: [],
};

function get(port: number): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ...(res.headers['retry-after'] ? { retryAfter: res.headers['retry-after'] } : {}),
        }),
      );
    });
    r.on('error', reject);
    r.end();
  });
}

/** One stream of an open session: its response headers and trailers together. */
function h2(
  s: ReturnType<typeof connect>,
  headers: Record<string, string>,
): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const st = s.request({ ':path': '/', ...headers });
    let got: Record<string, unknown> = {};
    st.on('response', (h) => {
      got = { ...h };
    });
    st.on('trailers', (t) => {
      got = { ...got, ...t };
    });
    st.resume();
    st.on('end', () => resolve(got));
    st.end();
  });
}

describe('rate limit at the destination', () => {
  it('lets the bucket`s requests through, then answers 429 (RESOURCE_EXHAUSTED for gRPC)', async () => {
    let served = 0;
    front = await startHttpFront(
      (_req, res) => {
        served++;
        res.end('ok\n');
      },
      undefined,
      null,
      table,
    );
    // The session is open before the bucket (1 a second, starting full) is emptied.
    const session = connect(`http://127.0.0.1:${front.port}`);
    await new Promise((r) => session.once('connect', r));
    expect((await get(front.port)).status).toBe(200);
    const [plain, grpc, more] = await Promise.all([
      h2(session, {}),
      h2(session, { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' }),
      get(front.port),
    ]);
    session.close();
    expect(more).toEqual({ status: 429, retryAfter: '1' });
    expect(plain[':status']).toBe(429);
    expect(plain['retry-after']).toBe('1');
    expect(grpc[':status']).toBe(200);
    expect(grpc['grpc-status']).toBe('8');
    expect(served).toBe(1);
  });
});
