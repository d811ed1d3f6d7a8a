// l7/: the L7 engine: per-request routing, balancing and upstream pools.

export type { PortPoolSnapshot } from './endpoint-pools.ts';
export { Pools } from './endpoint-pools.ts';
export { isPreface, L7Engine } from './engine.ts';
export type { InboundHttp2Target } from './inbound-h2.ts';
export { InboundHttp2 } from './inbound-h2.ts';
export { pickL4 } from './pick-l4.ts';
export { matchRoute, type RouteRequest, routesFor } from './route-match.ts';
export type { L7Source, L7View } from './source.ts';
