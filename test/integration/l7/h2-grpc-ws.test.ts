// The L7 engine with HTTP/2 cleartext from the app (prior knowledge), gRPC
// (unary, server streaming, trailers and grpc-status kept, the engine's own
// failures as gRPC statuses) and WebSocket upgrades, to mesh pods on another
// node (HBONE) and on this one (hand-off); a raw TCP protocol on another port
// of the same pod stays on the L4 path, intact.
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CompiledRule } from '../../../agent/src/tables/routes.ts';
import { grpcCall, h2Request, h2Session, lineProtocol, upgrade } from '../../support/h2-client.ts';
import { KeptAlive } from '../../support/http-client.ts';
import { type L7Mesh, l7Mesh, PORTS } from '../../support/l7-mesh.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { portRoutes, rule } from '../../support/routes.ts';

describePrivileged('L7 engine: h2c, gRPC and WebSocket through the outbound proxy', () => {
  let m: L7Mesh;
  let session: ClientHttp2Session;
  const be = (name: string, port: number, weight = 1) => ({
    service: `shop/${name}`,
    weight,
    endpoints: [m.pods[name]!.ep(port)],
  });
  const grpcRule = (
    i: number,
    path: string,
    b: ReturnType<typeof be>[],
    timeouts?: { request: number },
  ) =>
    rule({
      kind: 'GRPCRoute',
      route: 'GRPCRoute shop/echo',
      rule: i,
      pathType: path.endsWith('/') ? 'PathPrefix' : 'Exact',
      path,
      backends: b,
      ...(timeouts ? { timeouts } : {}),
    });
  const tables = (h2: CompiledRule[], ws: CompiledRule[]) => {
    const h2vip = `${m.vip}:90`;
    const wsvip = `${m.vip}:80`;
    m.setTables(
      {
        [h2vip]: { service: 'shop/echo', endpoints: [m.pods.remote!.ep(PORTS.h2)] },
        [wsvip]: { service: 'shop/echo', endpoints: [m.pods.remote!.ep(PORTS.http)] },
        // Another port of the same pods, with no routes: opaque TCP on the L4 path.
        [`${m.vip}:70`]: { service: 'shop/echo', endpoints: [m.pods.remote!.ep(PORTS.tcp)] },
      },
      {
        byVip: new Map([
          [h2vip, portRoutes('shop/echo', 90, h2, 'grpc')],
          [wsvip, portRoutes('shop/echo', 80, ws, 'http')],
        ]),
        inboundProtocol: new Map(),
      },
    );
  };

  beforeAll(async () => {
    m = await l7Mesh(88);
    session = h2Session(await m.address(90));
  }, 30_000);
  afterAll(async () => {
    session?.destroy();
    await m?.close();
  });

  it('routes h2c requests of one session per request, across nodes and on one node', async () => {
    tables(
      [
        rule({ rule: 0, path: '/remote', backends: [be('remote', PORTS.h2)] }),
        rule({ rule: 1, path: '/local', backends: [be('local', PORTS.h2)] }),
        rule({ rule: 2, path: '/plain', backends: [be('plain', PORTS.h2)] }),
      ],
      [],
    );
    const accepted = m.stats.accepted;
    const [a, b, c] = await Promise.all(
      ['/remote/x', '/local/y', '/plain/z'].map((p) => h2Request(session, { ':path': p })),
    );
    expect(JSON.parse(a!.body.toString())).toMatchObject({ pod: 'shop/remote', path: '/remote/x' });
    expect(JSON.parse(b!.body.toString())).toMatchObject({ pod: 'shop/local', path: '/local/y' });
    expect(JSON.parse(c!.body.toString())).toMatchObject({ pod: 'shop/plain', path: '/plain/z' });
    expect((await h2Request(session, { ':path': '/nowhere' })).headers[':status']).toBe(404);
    expect(m.stats.accepted - accepted).toBeLessThanOrEqual(1);
    expect(m.records.at(-1)).toMatchObject({
      protocol: 'http2',
      status: 404,
      responseFlags: 'no_route',
    });
  });

  it('carries gRPC unary and server-streaming calls with their trailers, across nodes and on one node', async () => {
    tables(
      [
        grpcRule(0, '/echo.Echo/Say', [be('remote', PORTS.h2)]),
        grpcRule(1, '/echo.Echo/Stream', [be('local', PORTS.h2)]),
        grpcRule(2, '/echo.Echo/Fail', [be('remote', PORTS.h2)]),
      ],
      [],
    );
    const u = await grpcCall(session, '/echo.Echo/Say', ['hi']);
    expect(u.status).toBe('0');
    expect(u.messages).toEqual(['shop/remote:hi:0']);
    expect(u.trailers['x-pod']).toBe('shop/remote');
    const s = await grpcCall(session, '/echo.Echo/Stream', ['a', 'b']);
    expect(s.status).toBe('0');
    expect(s.messages).toEqual([
      'shop/local:a:0',
      'shop/local:a:1',
      'shop/local:a:2',
      'shop/local:b:0',
      'shop/local:b:1',
      'shop/local:b:2',
    ]);
    // The app's own error status (a trailers-only answer) arrives as it was sent.
    const f = await grpcCall(session, '/echo.Echo/Fail', ['x']);
    expect(f.status).toBe('5');
    expect(f.headers['grpc-message']).toBe('not here');
    expect(m.records.at(-1)).toMatchObject({
      protocol: 'grpc',
      grpcStatus: 5,
      route: 'GRPCRoute shop/echo rule 2',
    });
  });

  it('answers its own failures as gRPC statuses: UNIMPLEMENTED, UNAVAILABLE, DEADLINE_EXCEEDED', async () => {
    tables(
      [
        grpcRule(0, '/echo.Echo/Say', [{ service: 'shop/empty', weight: 1, endpoints: [] }]),
        grpcRule(1, '/echo.Echo/Slow', [be('remote', PORTS.h2)], { request: 300 }),
        grpcRule(2, '/echo.Echo/Down', [{ ...be('plain', 1) }]),
      ],
      [],
    );
    expect((await grpcCall(session, '/other.Svc/Call', ['x'])).status).toBe('12');
    expect((await grpcCall(session, '/echo.Echo/Say', ['x'])).status).toBe('14');
    expect((await grpcCall(session, '/echo.Echo/Down', ['x'])).status).toBe('14');
    const t = await grpcCall(session, '/echo.Echo/Slow', ['x']);
    expect(t.status).toBe('4');
    expect(m.records.at(-1)).toMatchObject({ grpcStatus: 4, responseFlags: 'timeout' });
    // The session carries on.
    tables([grpcRule(0, '/echo.Echo/Say', [be('local', PORTS.h2)])], []);
    expect((await grpcCall(session, '/echo.Echo/Say', ['again'])).messages).toEqual([
      'shop/local:again:0',
    ]);
  });

  it('passes a WebSocket upgrade through after routing, across nodes and on one node', async () => {
    tables(
      [],
      [
        rule({ rule: 0, path: '/ws/remote', backends: [be('remote', PORTS.http)] }),
        rule({ rule: 1, path: '/ws/local', backends: [be('local', PORTS.http)] }),
      ],
    );
    const addr = await m.address(80);
    const r = await upgrade(addr, '/ws/remote', 'ping-1');
    expect(r.head).toMatch(/^HTTP\/1.1 101/);
    expect(r.head).toContain('x-echo-pod: shop/remote');
    expect(r.echoed).toBe('shop/remote:ping-1');
    const l = await upgrade(addr, '/ws/local', 'ping-2');
    expect(l.echoed).toBe('shop/local:ping-2');
    const none = await upgrade(addr, '/elsewhere', 'x');
    expect(none.head).toMatch(/^HTTP\/1.1 404/);
  });

  it('leaves a raw server-first TCP protocol on another port of the same pod intact', async () => {
    tables([rule({ backends: [be('remote', PORTS.h2)] })], []);
    const lines = await lineProtocol(await m.address(70), 'stressed');
    expect(lines).toEqual(['hello from shop/remote', 'desserts']);
  });

  it('sends HTTP/1.1 requests to a port declared gRPC/HTTP/2 as HTTP/2 streams', async () => {
    tables(
      [
        rule({ rule: 0, path: '/remote', backends: [be('remote', PORTS.h2)] }),
        rule({ rule: 1, path: '/local', backends: [be('local', PORTS.h2)] }),
      ],
      [],
    );
    const c = new KeptAlive(await m.address(90));
    const a = await c.send('/remote/h1', { method: 'POST', body: 'hello' });
    expect(a.json).toMatchObject({
      pod: 'shop/remote',
      method: 'POST',
      path: '/remote/h1',
      bodyBytes: 5,
    });
    expect(a.json.headers[':authority']).toBe('echo.shop');
    const b = await c.send('/local/h1');
    expect(b.json).toMatchObject({ pod: 'shop/local', path: '/local/h1' });
    c.close();
  });
});
