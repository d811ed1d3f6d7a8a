// telemetry/: counters, the access log, flows, the status document, metrics and health.
export { type AccessEntry, AccessLog } from './access-log.ts';
export { BoundedLog } from './bounded-log.ts';
export { type Flow, FlowLog } from './flows.ts';
export { HealthServer } from './health.ts';
export type { AgentLifecycle, HandoverStatus } from './lifecycle.ts';
export type { RequestRecord, RequestSink } from './request-record.ts';
export { noRequestSink } from './request-record.ts';
export { type DirectionStats, HboneCounters, ProxyStats } from './stats.ts';
export { type AgentStatus, formatStatus } from './status.ts';
