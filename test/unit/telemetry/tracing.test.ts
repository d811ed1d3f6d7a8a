// Traces: off unless an OTLP endpoint is configured; on, the L7 path makes a
// span per request that continues the caller's traceparent, hands the app a
// traceparent naming the proxy's span as parent, and exports it by OTLP/HTTP to
// a local receiver.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseTraceparent,
  type RequestTracing,
  samplerOf,
  startTracing,
  tracingWanted,
} from '../../../agent/src/telemetry/tracing.ts';
import { type HttpFront, startHttpFront } from '../../support/http-front.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

function get(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('tracing', () => {
  let receiver: Server;
  const spans: OtlpSpan[] = [];
  let tracing: RequestTracing;
  let front: HttpFront;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const j = JSON.parse(body);
        for (const rs of j.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    tracing = (await startTracing('node-t', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    }))!;
    // The app answers with the traceparent it was given.
    front = await startHttpFront(
      (req, res) => res.end(String(req.headers.traceparent ?? '')),
      undefined,
      tracing,
    );
  });
  afterAll(async () => {
    await front?.close();
    receiver?.close();
  });

  it('is off, and loads nothing, unless an OTLP endpoint is configured', async () => {
    expect(tracingWanted({})).toBe(false);
    expect(await startTracing('n', {})).toBeNull();
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'true' }),
    ).toBe(false);
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }),
    ).toBe(false);
  });

  it("continues the caller's trace, parents the app's on the proxy's span, and exports it", async () => {
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const caller = 'b7ad6b7169203331';
    const seen = parseTraceparent(
      await get(front.port, '/orders?id=1', { traceparent: `00-${trace}-${caller}-01` }),
    );
    expect(seen?.traceId).toBe(trace);
    expect(seen?.spanId).not.toBe(caller);
    // Without one, the proxy starts a trace of its own.
    const fresh = parseTraceparent(await get(front.port, '/fresh', {}));
    expect(fresh?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh?.traceId).not.toBe(trace);
    await tracing.shutdown();
    const span = spans.find((s) => s.traceId === trace);
    expect(span).toMatchObject({
      traceId: trace,
      spanId: seen!.spanId,
      parentSpanId: caller,
      kind: 2, // SERVER
      name: expect.stringMatching(/^GET .*\/orders$/),
    });
    const attr = Object.fromEntries(
      span!.attributes.map((a) => [a.key, Object.values(a.value)[0]]),
    );
    expect(attr).toMatchObject({
      'http.response.status_code': 200,
      'weft.reporter': 'destination',
    });
    expect(spans.find((s) => s.traceId === fresh!.traceId)?.parentSpanId).toBeFalsy();
  });

  it('samples as OTEL_TRACES_SAMPLER[_ARG] in its environment say, and refuses a value it cannot read', async () => {
    const sdk = await import('@opentelemetry/sdk-trace-base');
    const of = (env: Record<string, string>) => samplerOf(sdk, env).toString();
    expect(of({})).toMatch(/^ParentBased\{root=AlwaysOnSampler/);
    expect(
      of({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }),
    ).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
    expect(of({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe('AlwaysOffSampler');
    expect(() => of({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER: one of/);
    expect(() => of({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1, not "2"/,
    );
  });

  it('reads a W3C traceparent, and refuses a malformed or all-zero one', () => {
    const t = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(parseTraceparent(`00-${t}-00f067aa0ba902b7-01`)).toEqual({
      traceId: t,
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
    for (const bad of [
      undefined,
      '',
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-${t}-${'0'.repeat(16)}-01`,
      `00-${t.toUpperCase()}-00f067aa0ba902b7-01`,
      `01-${t}-00f067aa0ba902b7-01`,
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });
});
