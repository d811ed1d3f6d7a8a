// l7/: the L7 engine: per-request routing, balancing and upstream pools.

export { isPreface, L7Engine } from './engine.ts';
export type { InboundHttp2Target } from './inbound-h2.ts';
export { InboundHttp2 } from './inbound-h2.ts';
export { matchRoute, type RouteRequest, routesFor } from './route-match.ts';
export type { L7Source, L7View } from './source.ts';
