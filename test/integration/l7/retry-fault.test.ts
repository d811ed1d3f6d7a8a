// Retries and injected faults in the L7 engine, with real sockets through the outbound
// proxy: a route retry turns a backend's first 503s into a 200 (HTTP/1.1 and h2c, bodies
// resent), a dead endpoint is skipped for the live one without any route retry, a body past
// the buffer is not retried (and says so), the budget counts; HTTPFault aborts and delays
// (HTTP and gRPC statuses) and a missing one answers 500.
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RETRY_LIMITS } from '../../../agent/src/l7/retry.ts';
import type { CompiledRule } from '../../../agent/src/tables/routes.ts';
import type { TrafficPolicies } from '../../../agent/src/tables/traffic-policy.ts';
import { grpcCall, h2Request, h2Session } from '../../support/h2-client.ts';
import { KeptAlive } from '../../support/http-client.ts';
import { type L7Mesh, l7Mesh, PORTS } from '../../support/l7-mesh.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { portRoutes, rule } from '../../support/routes.ts';

describePrivileged('L7 engine: retries and injected faults', () => {
  let m: L7Mesh;
  let client: KeptAlive;
  let session: ClientHttp2Session;
  // Draws from a fixed sequence, so fault percentages are exact.
  let draws: number[] = [];
  const retry = { codes: [503], attempts: 2, backoff: 5 };
  const be = (name: string, port = PORTS.http) => ({
    service: `shop/${name}`,
    endpoints: [m.pods[name]!.ep(port)],
  });
  // A pod address where nothing listens: its connections are refused.
  const dead = (port: number) => ({ ip: m.pods.plain!.ip, port: port + 1, pod: 'shop/dead' });
  const tables = (
    http: CompiledRule[],
    h2: CompiledRule[] = [],
    trafficPolicies: TrafficPolicies = new Map(),
  ) => {
    m.setTables(
      {
        [`${m.vip}:80`]: { service: 'shop/echo', endpoints: [m.pods.plain!.ep(PORTS.http)] },
        [`${m.vip}:90`]: { service: 'shop/echo', endpoints: [m.pods.remote!.ep(PORTS.h2)] },
      },
      {
        byVip: new Map([
          [`${m.vip}:80`, portRoutes('shop/echo', 80, http, 'http')],
          [`${m.vip}:90`, portRoutes('shop/echo', 90, h2, 'grpc')],
        ]),
        inboundProtocol: new Map(),
        trafficPolicies,
      },
    );
  };

  beforeAll(async () => {
    m = await l7Mesh(91, { rand: () => draws.shift() ?? 0.99 });
    client = new KeptAlive(await m.address(80));
    session = h2Session(await m.address(90));
  }, 30_000);
  afterAll(async () => {
    client?.close();
    session?.destroy();
    await m?.close();
  });

  it('retries the listed status on the route (attempts 2): the client sees 200; without the retry, 503', async () => {
    tables([
      rule({ rule: 0, path: '/flaky', backends: [be('plain')], retry }),
      rule({ rule: 1, path: '/', backends: [be('plain')] }),
    ]);
    const before = { ...m.engine.retryCounts };
    const a = await client.send('/flaky/2/k1');
    expect(a.status).toBe(200);
    expect(m.pods.plain!.echo.seen.filter((p) => p === '/flaky/2/k1')).toHaveLength(3);
    expect(m.engine.retryCounts.retried - before.retried).toBe(2);
    // One request in telemetry, however many attempts.
    expect(m.records.filter((r) => r.path === '/flaky/2/k1')).toHaveLength(1);
    expect((await client.send('/flaky/3/k2')).status).toBe(503);
    // Without the route's retry the first 503 is the answer.
    tables([rule({ rule: 0, path: '/', backends: [be('plain')] })]);
    expect((await client.send('/flaky/2/k3')).status).toBe(503);
  });

  it('resends a body with the retry, and does not retry one past the buffer (flagged)', async () => {
    tables([rule({ path: '/', backends: [be('plain')], retry })]);
    const body = 'x'.repeat(10_000);
    const a = await client.send('/flaky/1/b1', { method: 'POST', body });
    expect(a.status).toBe(200);
    expect(a.json.bodyBytes).toBe(10_000);
    const big = 'y'.repeat(RETRY_LIMITS.bodyBytes + 1);
    const b = await client.send('/flaky/1/b2', { method: 'POST', body: big });
    expect(b.status).toBe(503);
    expect(m.records.at(-1)).toMatchObject({ status: 503, responseFlags: 'retry_body_too_large' });
  });

  it('bounds each attempt by backendRequest and all of them by request', async () => {
    tables([
      rule({
        path: '/',
        backends: [be('plain')],
        retry: { codes: [504], attempts: 5, backoff: 10 },
        timeouts: { request: 700, backendRequest: 200 },
      }),
    ]);
    const seen = m.pods.plain!.echo.seen.length;
    const t = performance.now();
    expect((await client.send('/slow/x')).status).toBe(504);
    const took = performance.now() - t;
    expect(took).toBeGreaterThanOrEqual(690);
    expect(took).toBeLessThan(1500);
    // Each 200 ms attempt timed out and was tried again until the request's 700 ms ran out.
    expect(m.pods.plain!.echo.seen.length - seen).toBeGreaterThanOrEqual(3);
    expect(m.records.at(-1)).toMatchObject({ status: 504, responseFlags: 'timeout' });
  });

  it('skips an endpoint that refuses connections for another, without a route retry', async () => {
    // Round robin sends every other request to the dead endpoint first; the default balancer
    // learns to avoid it (test/unit/l7/balancer.test.ts). The backend's port is its first
    // endpoint's: the dead one's.
    tables(
      [
        rule({
          path: '/',
          backends: [
            { service: 'shop/two', endpoints: [dead(PORTS.http), m.pods.plain!.ep(PORTS.http)] },
          ],
        }),
      ],
      [],
      new Map([
        [`shop/two:${PORTS.http + 1}`, { from: 'DestinationRule shop/two', lb: 'ROUND_ROBIN' }],
      ]),
    );
    for (let i = 0; i < 10; i++) expect((await client.send(`/two/${i}`)).status).toBe(200);
    const budget = m.engine.retryStatus().budgets.find((b) => b.service.startsWith('shop/two:'));
    expect(budget?.used).toBeGreaterThanOrEqual(5);
  });

  it('retries h2c streams on the listed status, with their bodies', async () => {
    tables([], [rule({ path: '/', backends: [be('remote', PORTS.h2)], retry })]);
    const a = await h2Request(session, { ':path': '/flaky/2/h1' });
    expect(a.headers[':status']).toBe(200);
    const b = await h2Request(
      session,
      { ':method': 'POST', ':path': '/flaky/1/h2' },
      Buffer.alloc(5000),
    );
    expect(b.headers[':status']).toBe(200);
    expect(JSON.parse(b.body.toString()).bodyBytes).toBe(5000);
    expect((await h2Request(session, { ':path': '/flaky/3/h3' })).headers[':status']).toBe(503);
    // HTTP/1.1 from the app to the same HTTP/2 port: each attempt a stream, the body resent.
    const h1 = new KeptAlive(await m.address(90));
    const c = await h1.send('/flaky/2/h4', { method: 'POST', body: 'z'.repeat(3000) });
    expect(c.status).toBe(200);
    expect(c.json.bodyBytes).toBe(3000);
    expect((await h1.send('/flaky/3/h5')).status).toBe(503);
    h1.close();
  });

  it('injects aborts and delays as drawn (HTTP status, gRPC status), and answers 500 for a missing HTTPFault', async () => {
    const fault = {
      name: 'shop/f',
      delay: { ms: 200, percent: 50 },
      abort: { httpStatus: 418, grpcStatus: 14, percent: 50 },
    };
    tables(
      [
        rule({
          rule: 0,
          path: '/gone',
          backends: [be('plain')],
          fault: { name: 'shop/x', missing: true },
        }),
        rule({ rule: 1, path: '/', backends: [be('plain')], fault }),
      ],
      [rule({ kind: 'GRPCRoute', path: '/', backends: [be('remote', PORTS.h2)], fault })],
    );
    // Delay drawn (0.1 < 50%), abort not (0.9): delayed, then forwarded.
    draws = [0.1, 0.9];
    let t = performance.now();
    expect((await client.send('/f/1')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    expect(m.records.at(-1)).toMatchObject({ status: 200, responseFlags: 'fault_delay' });
    // Neither: straight through.
    draws = [0.9, 0.9];
    t = performance.now();
    expect((await client.send('/f/2')).status).toBe(200);
    expect(performance.now() - t).toBeLessThan(150);
    // Abort only: the status, at once, never reaching the backend.
    draws = [0.9, 0.1];
    const seen = m.pods.plain!.echo.seen.length;
    expect((await client.send('/f/3')).status).toBe(418);
    expect(m.pods.plain!.echo.seen.length).toBe(seen);
    expect(m.records.at(-1)).toMatchObject({ status: 418, responseFlags: 'fault_abort' });
    // gRPC: the grpcStatus, in a trailers-only answer.
    draws = [0.9, 0.1];
    const g = await grpcCall(session, '/echo.Echo/Say', ['hi']);
    expect(g.status).toBe('14');
    expect(m.records.at(-1)).toMatchObject({ grpcStatus: 14, responseFlags: 'fault_abort' });
    draws = [0.9, 0.9];
    expect((await grpcCall(session, '/echo.Echo/Say', ['hi'])).status).toBe('0');
    expect((await client.send('/gone')).status).toBe(500);
    expect(m.records.at(-1)).toMatchObject({ status: 500, responseFlags: 'filter_unresolved' });
  });
});
