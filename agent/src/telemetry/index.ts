// telemetry/: counters, the access log, flows, the status document, metrics and health.

export type { AccessEntryJson } from './access-log.ts';
export { type AccessEntry, AccessLog, accessEntryJson } from './access-log.ts';
export { AccessLogWriter, accessLogDestination } from './access-log-writer.ts';
export type { BalancerStatus, EndpointStatus } from './balancer-status.ts';
export { BoundedLog } from './bounded-log.ts';
export {
  type Admission,
  Connection,
  type ConnectionObserver,
  ConnectionRegistry,
  type ConnectionSinks,
} from './connection.ts';
export { observers, requestSinks } from './fan-out.ts';
export { type Flow, FlowLog } from './flows.ts';
export { HealthServer, type HealthSource } from './health.ts';
export type { IssuerMetrics } from './issuer-metrics/index.ts';
export type { AgentLifecycle, HandoverStatus } from './lifecycle.ts';
export type { Logger, LogLevel } from './logger.ts';
export { createLogger, LOG_LEVELS, logLevel } from './logger.ts';
export { AgentMetrics } from './metrics.ts';
export type { RequestRecord, RequestSink } from './request-record.ts';
export { noRequestSink } from './request-record.ts';
export { type DirectionStats, HboneCounters, ProxyStats } from './stats.ts';
export {
  type AgentStatus,
  formatStatus,
  type MemoryReleases,
  type RetryStatus,
} from './status.ts';
export type { RequestSpan, RequestTracing } from './tracing.ts';
export { startTracing } from './tracing.ts';
