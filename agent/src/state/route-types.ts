// Gateway API routes bound to a Service (GAMMA), as the parsers (sources/routes/)
// hand them over: validated, defaults filled in, durations in milliseconds.
// The compilers (compile/routes.ts) turn them into route tables (tables/routes.ts).

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

/** A Service a route attaches to; `port` narrows it to one Service port. */
export interface ServiceParentRef {
  readonly namespace: string;
  readonly name: string;
  readonly port?: number;
}

export type StringMatchType = 'Exact' | 'RegularExpression';

export interface HeaderMatch {
  readonly type: StringMatchType;
  /** Lower case. */
  readonly name: string;
  readonly value: string;
}

export type QueryParamMatch = HeaderMatch;

export interface PathMatch {
  readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  readonly value: string;
}

export interface HttpRouteMatch {
  /** Defaults to PathPrefix `/`, as the spec says. */
  readonly path: PathMatch;
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly QueryParamMatch[];
  /** Upper case; absent matches every method. */
  readonly method?: string;
}

export interface GrpcMethodMatch {
  readonly type: StringMatchType;
  readonly service?: string;
  readonly method?: string;
}

export interface GrpcRouteMatch {
  readonly method?: GrpcMethodMatch;
  readonly headers: readonly HeaderMatch[];
}

export interface HeaderModifier {
  readonly set: readonly { readonly name: string; readonly value: string }[];
  readonly add: readonly { readonly name: string; readonly value: string }[];
  /** Lower case. */
  readonly remove: readonly string[];
}

export type PathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly value: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly value: string };

export interface BackendRef {
  /** Only Services (group "", kind Service) are backends in the mesh. */
  readonly namespace: string;
  readonly name: string;
  readonly port?: number;
  /** Defaults to 1; 0 takes no traffic. */
  readonly weight: number;
  readonly filters: readonly RouteFilter[];
}

export type RouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly modifier: HeaderModifier }
  | { readonly type: 'ResponseHeaderModifier'; readonly modifier: HeaderModifier }
  | {
      readonly type: 'RequestRedirect';
      readonly scheme?: 'http' | 'https';
      readonly hostname?: string;
      readonly port?: number;
      readonly path?: PathModifier;
      /** 302 by default (the Gateway API's default); 301, 303, 307, 308 allowed. */
      readonly statusCode: number;
    }
  | { readonly type: 'URLRewrite'; readonly hostname?: string; readonly path?: PathModifier }
  | {
      /** Only weft.dev/HTTPFault, in the route's namespace (rule filters only). */
      readonly type: 'ExtensionRef';
      readonly group: 'weft.dev';
      readonly kind: 'HTTPFault';
      readonly name: string;
    }
  | {
      readonly type: 'RequestMirror';
      readonly backend: Omit<BackendRef, 'weight' | 'filters'>;
      /** 0–100; 100 when neither percent nor fraction is given. */
      readonly percent: number;
    };

export interface RouteTimeouts {
  /** timeouts.request in ms; absent: none. */
  readonly request?: number;
  /** timeouts.backendRequest in ms; absent: none. */
  readonly backendRequest?: number;
}

/** spec.rules[].retry (HTTPRoute; GRPCRoute takes codes as gRPC status names mapped to numbers). */
export interface RouteRetry {
  readonly codes: readonly number[];
  readonly attempts: number;
  /** ms */
  readonly backoff?: number;
}

export interface RouteRule<M> {
  readonly name?: string;
  /** Never empty: a rule without matches gets the spec's default match. */
  readonly matches: readonly M[];
  readonly filters: readonly RouteFilter[];
  readonly backendRefs: readonly BackendRef[];
  readonly timeouts?: RouteTimeouts;
  readonly retry?: RouteRetry;
}

interface RouteBase {
  readonly namespace: string;
  readonly name: string;
  /** metadata.creationTimestamp (ms since epoch; 0 when unknown), for the spec's precedence ties. */
  readonly created: number;
  readonly generation: number;
  readonly parentRefs: readonly ServiceParentRef[];
  /** Lower case; empty matches every Host. */
  readonly hostnames: readonly string[];
}

export interface HttpRoute extends RouteBase {
  readonly kind: 'HTTPRoute';
  readonly rules: readonly RouteRule<HttpRouteMatch>[];
}

export interface GrpcRoute extends RouteBase {
  readonly kind: 'GRPCRoute';
  readonly rules: readonly RouteRule<GrpcRouteMatch>[];
}

export type Route = HttpRoute | GrpcRoute;

/** gateway.networking.k8s.io ReferenceGrant, as far as routes to Services in another namespace need it. */
export interface ReferenceGrant {
  readonly namespace: string;
  readonly name: string;
  readonly from: readonly { readonly kind: RouteKind; readonly namespace: string }[];
  /** Service names in this grant's namespace; undefined `name` grants every Service. */
  readonly to: readonly { readonly name?: string }[];
}

/** A route status condition, as the Gateway API words them (compile/route-status.ts computes them). */
export interface RouteCondition {
  readonly type: 'Accepted' | 'ResolvedRefs';
  readonly status: 'True' | 'False';
  readonly reason:
    | 'Accepted'
    | 'NoMatchingParent'
    | 'UnsupportedValue'
    | 'ResolvedRefs'
    | 'BackendNotFound'
    | 'RefNotPermitted'
    | 'InvalidKind';
  readonly message: string;
}

/** A route's conditions for one of its parents. */
export interface RouteParentStatus {
  readonly parentRef: ServiceParentRef;
  readonly conditions: readonly RouteCondition[];
}
