// l7/: the L7 engine: per-request routing, balancing and upstream pools.
export { matchRoute, type RouteRequest, routesFor } from './route-match.ts';
