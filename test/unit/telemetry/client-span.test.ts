// Traces across both proxies of one request: the L7 engine (the client's node)
// makes a CLIENT span continuing the app's traceparent and passes its own
// upstream; the server's proxy (proxy/http.ts) makes a SERVER span, its child;
// the app gets a traceparent naming the server span. Both reach a local OTLP
// receiver, one trace.
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { L7Engine } from '../../../agent/src/l7/engine.ts';
import type { L7Source, L7View } from '../../../agent/src/l7/source.ts';
import type { RequestRecord } from '../../../agent/src/telemetry/request-record.ts';
import {
  parseTraceparent,
  type RequestTracing,
  startTracing,
} from '../../../agent/src/telemetry/tracing.ts';
import { type HttpFront, startHttpFront } from '../../support/http-front.ts';
import { portRoutes } from '../../support/routes.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
}

const VIP = '10.96.0.10';

describe('client-side spans of the L7 engine', () => {
  let receiver: Server;
  const spans: OtlpSpan[] = [];
  let tracing: RequestTracing;
  let front: HttpFront;
  let engine: L7Engine;
  let listener: Server | ReturnType<typeof createTcpServer>;
  const records: RequestRecord[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        for (const rs of JSON.parse(body).resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
        res.end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    tracing = (await startTracing('node-t', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    }))!;
    // The server's proxy, and behind it an app answering with the traceparent it was given.
    front = await startHttpFront(
      (req, res) => res.end(String(req.headers.traceparent ?? '')),
      undefined,
      tracing,
    );
    engine = new L7Engine({ sink: { request: (r) => records.push(r) }, tracing });
    const key = `${VIP}:80`;
    const view: L7View = {
      routes: {
        byVip: new Map([[key, portRoutes('shop/web', 80, [])]]),
        inboundProtocol: new Map(),
      },
      services: new Map([
        [
          key,
          {
            service: 'shop/web',
            endpoints: [{ ip: '127.0.0.1', port: front.port, pod: 'shop/web' }],
          },
        ],
      ]),
    };
    const src: L7Source = {
      workloadKey: 'shop/client',
      namespace: 'shop',
      vip: key,
      port: 80,
      mtls: false,
      view: () => view,
      allowed: (_v, _k, t) => t,
      dial: (ep) => connect(ep.port, ep.ip),
      closed: () => {},
    };
    listener = createTcpServer((s) => engine.serve(s, src));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    listener?.close();
    engine?.close();
    await front?.close();
    receiver?.close();
  });

  const get = (headers: Record<string, string>): Promise<string> =>
    new Promise((resolve, reject) => {
      const port = (listener.address() as AddressInfo).port;
      const r = request({ host: '127.0.0.1', port, path: '/orders', headers }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      });
      r.on('error', reject);
      r.end();
    });

  it('links the app, the client span, the server span and the app behind it in one trace', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const app = '00f067aa0ba902b7';
    const seen = parseTraceparent(await get({ traceparent: `00-${trace}-${app}-01` }));
    // Without one, the engine starts a trace; the server's side continues it.
    const fresh = parseTraceparent(await get({}));
    await tracing.shutdown();
    expect(seen?.traceId).toBe(trace);
    const server = spans.find((s) => s.spanId === seen!.spanId)!;
    expect(server).toMatchObject({ traceId: trace, kind: 2 }); // SERVER
    const client = spans.find((s) => s.spanId === server.parentSpanId)!;
    expect(client).toMatchObject({ traceId: trace, parentSpanId: app, kind: 3 }); // CLIENT
    const freshServer = spans.find((s) => s.spanId === fresh!.spanId)!;
    const freshClient = spans.find((s) => s.spanId === freshServer.parentSpanId)!;
    expect(freshClient).toMatchObject({ traceId: fresh!.traceId, kind: 3 });
    expect(freshClient.parentSpanId).toBeFalsy();
    // The engine's record carries the trace it passed on.
    expect(records[0]).toMatchObject({
      reporter: 'source',
      destinationService: 'shop/web',
      status: 200,
      traceparent: `00-${trace}-${client.spanId}-01`,
    });
  });
});
