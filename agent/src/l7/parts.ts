// What a protocol handler (http1.ts, http2.ts) uses of the engine (engine.ts).
import type { IncomingMessage } from 'node:http';
import type { CompiledRule } from '../tables/index.ts';
import type { RequestSink, RequestTracing } from '../telemetry/index.ts';
import type { Pools } from './endpoint-pools.ts';
import type { Headers } from './filters.ts';
import type { RetryCounts } from './retry.ts';
import type { RetryBudgets } from './retry-budget.ts';
import type { L7Source, L7View } from './source.ts';
import type { Spread } from './spread.ts';
import type { Upstreams } from './upstream.ts';

/** What a protocol handler (http1.ts, http2.ts) uses of the engine. */
export interface EngineParts {
  /** Each Service port's balancer, outlier and breaker state. */
  readonly pools: Pools;
  readonly spread: Spread;
  readonly upstreams: Upstreams;
  readonly sink: RequestSink;
  /** A client-side span per request, when tracing is on. */
  readonly tracing: RequestTracing | null;
  /** Retry budgets per (client workload, Service port), and what retrying came to. */
  readonly budgets: RetryBudgets;
  readonly retryCounts: RetryCounts;
  /** [0, 1): backoff jitter and fault draws (a seeded one in tests). */
  readonly rand: () => number;
  mirror(
    src: L7Source,
    view: L7View,
    rule: CompiledRule,
    method: string,
    target: string,
    headers: Headers,
    body: IncomingMessage | undefined,
  ): void;
}
