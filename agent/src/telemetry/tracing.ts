// Traces with OpenTelemetry: one span per HTTP/gRPC request on each proxy that
// serves it, the W3C `traceparent` continued from the app (or started), sampled
// and exported by OTLP over HTTP as the standard OTEL_* variables say. Off
// unless an OTLP endpoint is configured; off, nothing is loaded and no span is
// made, so the request path pays one null check.
//
// How a request path uses it (proxy/http.ts does, and so can the L7 engine):
//   const span = sinks.tracing?.start(reporter, req.headers.traceparent, Date.now());
//   forward the request with `traceparent: span.traceparent` (the app's child
//   span, or the next proxy's, links to this one), then, when the request is done,
//   span.end(record) with the same RequestRecord the RequestSink gets.
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { RequestRecord } from './request-record.ts';

/** One request's span, between its start and the RequestRecord that ends it. */
export interface RequestSpan {
  /** The traceparent to forward: this span as the parent of what follows. */
  readonly traceparent: string;
  end(r: RequestRecord): void;
}

export interface RequestTracing {
  /** A span for a request starting now, a child of `incoming` when the request carried one. */
  start(
    reporter: 'source' | 'destination',
    incoming: string | undefined,
    startMs: number,
  ): RequestSpan;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A W3C traceparent's parts, or undefined when it is malformed or all zeros. */
export function parseTraceparent(
  tp: string | undefined,
): { traceId: string; spanId: string; flags: number } | undefined {
  const m = tp ? TRACEPARENT.exec(tp.trim()) : null;
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, flags: Number.parseInt(m[3]!, 16) };
}

type Env = Record<string, string | undefined>;

/** Whether the environment asks for traces: an OTLP endpoint, and neither the SDK nor traces disabled. */
export function tracingWanted(env: Env = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER ?? 'otlp';
  if (exporter !== 'otlp') return false;
  return !!(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Where spans go: the traces endpoint as given, else the general one with /v1/traces. */
function tracesUrl(env: Env): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (traces) return traces;
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/+$/, '')}/v1/traces`;
}

type SdkTrace = typeof import('@opentelemetry/sdk-trace-base');

/**
 * The sampler OTEL_TRACES_SAMPLER[_ARG] name, read from `env` (the SDK would read
 * process.env and fall back to always-on on a typo; a wrong value is an error here).
 */
export function samplerOf(sdk: SdkTrace, env: Env): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on';
  const ratio = () => {
    const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    const p = arg ? Number(arg) : 1;
    if (!(p >= 0 && p <= 1))
      throw new Error(`OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1, not ${JSON.stringify(arg)}`);
    return new sdk.TraceIdRatioBasedSampler(p);
  };
  const roots: Record<string, () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
  };
  const parentBased = name.startsWith('parentbased_');
  const root = roots[parentBased ? name.slice('parentbased_'.length) : name];
  if (!root)
    throw new Error(
      `OTEL_TRACES_SAMPLER: one of always_on, always_off, traceidratio and their parentbased_ forms, not ${JSON.stringify(name)}`,
    );
  return parentBased ? new sdk.ParentBasedSampler({ root: root() }) : root();
}

/** Spans waiting for export at most; more are dropped (the SDK's batch processor). */
export const MAX_QUEUED_SPANS = 2048;

/**
 * Tracing as the environment configures it (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
 * OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER[_ARG], OTEL_SDK_DISABLED), or null
 * when it asks for none. The SDK is loaded only then.
 */
export async function startTracing(
  node: string,
  env: Env = process.env,
): Promise<RequestTracing | null> {
  if (!tracingWanted(env)) return null;
  const api = await import('@opentelemetry/api');
  const sdk = await import('@opentelemetry/sdk-trace-base');
  const { BasicTracerProvider, BatchSpanProcessor } = sdk;
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const provider = new BasicTracerProvider({
    sampler: samplerOf(sdk, env),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }), {
        maxQueueSize: MAX_QUEUED_SPANS,
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  const tracer = provider.getTracer('weft');
  const { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } = api;
  return {
    start(reporter, incoming, startMs) {
      const parent = parseTraceparent(incoming);
      const ctx = parent
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: parent.flags & 1,
            isRemote: true,
          })
        : ROOT_CONTEXT;
      const span = tracer.startSpan(
        'request',
        {
          kind: reporter === 'source' ? SpanKind.CLIENT : SpanKind.SERVER,
          startTime: startMs,
          attributes: { 'weft.node': node, 'weft.reporter': reporter },
        },
        ctx,
      );
      const sc = span.spanContext();
      return {
        traceparent: `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`,
        end(r: RequestRecord) {
          if (span.isRecording()) {
            span.updateName(`${r.method} ${r.authority}${r.path}`.slice(0, 256));
            span.setAttributes({
              'http.request.method': r.method,
              'url.path': r.path.slice(0, 512),
              'server.address': r.authority.slice(0, 256),
              'http.response.status_code': r.status,
              'weft.response_flags': r.responseFlags || '-',
              'weft.mtls': r.mtls,
              ...(r.sourcePod ? { 'weft.source.workload': r.sourcePod } : {}),
              ...(r.destinationPod ? { 'weft.destination.workload': r.destinationPod } : {}),
              ...(r.sourcePrincipal ? { 'weft.source.principal': r.sourcePrincipal } : {}),
              ...(r.grpcStatus !== undefined ? { 'rpc.grpc.status_code': r.grpcStatus } : {}),
            });
            if (r.status >= 500 || r.responseFlags) span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end(r.start + r.durationMs);
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
