// l7/: the L7 engine: per-request routing, balancing and upstream pools; the destination side.

export type { PortPoolSnapshot } from './endpoint-pools.ts';
export { Pools } from './endpoint-pools.ts';
export { L7Engine } from './engine.ts';
export { InboundL7 } from './inbound.ts';
export { DEFAULT_INBOUND_LIMITS, type InboundLimits } from './inbound-bounds.ts';
export type { Admission, InboundTarget } from './inbound-target.ts';
export { pickL4 } from './pick-l4.ts';
export { Limiter, RATE_LIMIT_LIMITS, RateLimiters } from './rate-limit.ts';
export { matchRoute, type RouteRequest, routesFor } from './route-match.ts';
export type { L7Source, L7View } from './source.ts';
export { TokenBucket } from './token-bucket.ts';
