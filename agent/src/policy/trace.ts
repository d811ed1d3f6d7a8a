// The explanation of one connection, stage by stage, in the order the mesh
// decides it: enrollment, routes (an HTTP request to a Service that Gateway API
// routes bind), Service resolution, egress NetworkPolicy (connect()),
// mTLS identity, ingress NetworkPolicy, AuthorizationPolicy DENY/ALLOW/AUDIT
// (and the HTTP request, when given). Pure: `weft policy trace` and, once wired
// in, the agent evaluate with these same functions.

import { principal, spiffeId } from '../identity/spiffe/index.ts';
import {
  type AuthzRequest,
  type ClusterObjects,
  inMesh,
  isStrict,
  MTLS_LABEL,
  type MtlsMode,
  type Pod,
  serviceEndpoints,
} from '../state/index.ts';
import { evaluateAuthorization } from './authz-eval.ts';
import { servesHttp } from './authz-l7.ts';
import { podEndpoint } from './endpoint.ts';
import { normalizeTarget } from './http-path.ts';
import { evaluateNetworkPolicies } from './netpol-eval.ts';
import { egressView, type JudgedEndpoint, judgeEndpoints } from './service-endpoints.ts';
import { balancerStage } from './trace-balancer.ts';
import { describeLimit, rateLimitOf } from './trace-limits.ts';
import { traceRoutes } from './trace-routes.ts';

export type StageResult = 'allow' | 'deny' | 'info' | 'skip';

export interface TraceStage {
  readonly stage: string;
  readonly result: StageResult;
  /** `namespace/name` of the object that decided, when one did. */
  readonly object?: string;
  readonly rule?: number;
  readonly reason: string;
}

/** The protocols the mesh polices; SCTP policy rules are refused when read. */
export type TraceProtocol = 'TCP' | 'UDP';

export interface Trace {
  readonly verdict: 'allow' | 'deny';
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: TraceProtocol;
  readonly stages: readonly TraceStage[];
}

export interface TraceInput {
  /** Pods, Services, Namespaces and the policies in force. */
  readonly cluster: ClusterObjects;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  /** `namespace/pod` */
  readonly from: string;
  /** `namespace/pod` or `namespace/svc/name` */
  readonly to: string;
  readonly port: number;
  /** Default TCP. UDP is policed in the kernel only: no tunnel, no proxy, no AuthorizationPolicy. */
  readonly protocol?: TraceProtocol;
  readonly http?: AuthzRequest;
  /** The mesh-wide mTLS mode for namespaces without a weft.dev/mtls label (default permissive). */
  readonly mtlsDefault?: MtlsMode;
}

interface Target {
  readonly pod: Pod;
  readonly port: number;
  /** A Service: every endpoint's egress verdict. */
  readonly judged?: readonly JudgedEndpoint[];
  /** false: the endpoint is no known pod (only egress is traced). */
  readonly known: boolean;
}

/** Where `to` leads: the pod and the port on it, or why nowhere. */
function resolveTarget(input: TraceInput, from: Pod, stages: TraceStage[]): Target | undefined {
  const parts = input.to.split('/');
  if (parts.length === 3 && parts[1] === 'svc') {
    const key = `${parts[0]}/${parts[2]}`;
    const svc = input.cluster.services.get(key);
    if (!svc) {
      stages.push({ stage: 'service', result: 'deny', object: key, reason: `no Service ${key}` });
      return undefined;
    }
    const protocol = input.protocol ?? 'TCP';
    const sp = svc.ports.find((p) => p.port === input.port && p.protocol === protocol);
    if (!sp) {
      stages.push({
        stage: 'service',
        result: 'deny',
        object: key,
        reason: `Service ${key} has no ${protocol} port ${input.port}`,
      });
      return undefined;
    }
    // The endpoints the proxy balances over, and each one's egress verdict, as
    // the kernel's VIP entry and the proxy judge them (compile/netpol-services.ts).
    const endpoints = serviceEndpoints(input.cluster, svc, sp);
    if (endpoints.length === 0) {
      stages.push({
        stage: 'service',
        result: 'deny',
        object: key,
        reason: `Service ${key} port ${input.port} has no ready endpoints (pods with an IP): the proxy refuses, and connect() fails with EPERM under egress NetworkPolicy`,
      });
      return undefined;
    }
    const judged = judgeEndpoints(
      egressView(input.cluster),
      { namespace: from.namespace, labels: from.labels, name: from.name, ip: from.podIP ?? '' },
      endpoints,
      protocol === 'UDP' ? 'UDP' : 'TCP',
    );
    const chosen = judged.find((j) => j.allow) ?? judged[0]!;
    const podOf = (j: JudgedEndpoint) => input.cluster.pods.get(j.endpoint.pod);
    const pod = podOf(chosen);
    const via = input.cluster.endpointSlices ? 'EndpointSlices' : 'the selector';
    stages.push({
      stage: 'service',
      result: 'info',
      object: key,
      reason: `port ${input.port} → ${endpoints.length} endpoint(s) (from ${via}); tracing ${chosen.endpoint.pod} ${chosen.endpoint.ip}:${chosen.endpoint.port}${protocol === 'UDP' ? ' (weft does not balance UDP: kube-proxy or the CNI translates the Service address after the kernel has checked egress policy against it)' : ''}`,
    });
    if (!pod) {
      stages.push({
        stage: 'service',
        result: 'info',
        object: key,
        reason: `${chosen.endpoint.ip} is no pod known to the cluster: only egress policy is traced`,
      });
    }
    return { pod: pod ?? from, port: chosen.endpoint.port, judged, known: pod !== undefined };
  }
  const pod = input.cluster.pods.get(input.to);
  if (!pod) {
    stages.push({
      stage: 'target',
      result: 'deny',
      reason: `no pod ${input.to} (use namespace/pod or namespace/svc/name)`,
    });
    return undefined;
  }
  return { pod, port: input.port, known: true };
}

/** A trace lists this many of a Service's endpoints one by one, and counts the rest. */
export const MAX_ENDPOINT_STAGES = 100;

/**
 * Egress to a Service, per endpoint: the kernel's VIP entry allows the port when
 * at least one endpoint is allowed, and the proxy picks among the allowed ones only.
 */
function serviceEgress(
  stages: TraceStage[],
  input: TraceInput,
  judged: readonly JudgedEndpoint[],
): void {
  const ok = judged.filter((j) => j.allow).length;
  for (const j of judged.slice(0, MAX_ENDPOINT_STAGES)) {
    const e = j.endpoint;
    stages.push({
      stage: `egress NetworkPolicy → ${e.pod}`,
      result: j.allow ? 'allow' : ok > 0 ? 'info' : 'deny',
      ...(j.matched
        ? { object: j.matched.policy, rule: j.matched.rule }
        : j.selectedBy[0]
          ? { object: j.selectedBy.join(', ') }
          : {}),
      reason: `${e.ip}:${e.port}: ${j.reason}${!j.allow && ok > 0 ? '; the proxy never picks it' : ''}`,
    });
  }
  const n = judged.length;
  const rest = judged.slice(MAX_ENDPOINT_STAGES);
  if (rest.length > 0) {
    const allowed = rest.filter((j) => j.allow).length;
    stages.push({
      stage: 'egress NetworkPolicy → …',
      result: 'info',
      reason: `${rest.length} more endpoint(s), not listed: ${allowed} allowed, ${rest.length - allowed} denied`,
    });
  }
  const vip = `${input.to} port ${input.port}`;
  stages.push({
    stage: 'egress NetworkPolicy',
    result: ok > 0 ? 'allow' : 'deny',
    reason:
      judged[0]!.selectedBy.length === 0
        ? `no policy selects ${input.from} for egress: any of the ${n} endpoint(s) of ${vip} may be picked`
        : ok === n
          ? `all ${n} endpoint(s) of ${vip} allowed: connect() to the VIP passes`
          : ok > 0
            ? `${ok} of ${n} endpoints of ${vip} allowed: connect() to the VIP passes, and the proxy balances over those ${ok} only`
            : `none of the ${n} endpoint(s) of ${vip} allowed: connect() to the VIP fails with EPERM`,
  });
}

export function tracePolicy(asked: TraceInput): Trace {
  const stages: TraceStage[] = [];
  // An HTTP request to a Service that routes bind is followed to the backend they pick.
  let input = asked;
  const protocol = input.protocol ?? 'TCP';
  const udp = protocol === 'UDP';
  const done = (): Trace => ({
    verdict: stages.some((s) => s.result === 'deny') ? 'deny' : 'allow',
    from: asked.from,
    to: asked.to,
    port: asked.port,
    protocol,
    stages,
  });
  if (udp && input.http) {
    stages.push({ stage: 'L7', result: 'deny', reason: 'HTTP rides on TCP, not UDP' });
    return done();
  }
  const src = input.cluster.pods.get(input.from);
  if (!src) {
    stages.push({ stage: 'source', result: 'deny', reason: `no pod ${input.from}` });
    return done();
  }
  if (input.http && input.to.split('/')[1] === 'svc' && input.to.split('/').length === 3) {
    const routed = traceRoutes(
      input.cluster,
      src.namespace,
      input.to,
      input.port,
      input.http,
      stages,
    );
    if (routed === 'answered') return done();
    if (routed) input = { ...input, ...routed };
    const [ns, , name] = input.to.split('/');
    stages.push(balancerStage(input.cluster, `${ns}/${name}`, input.port));
  }
  const target = resolveTarget(input, src, stages);
  if (!target) return done();
  const dst = target.pod;
  const dstKey = `${dst.namespace}/${dst.name}`;
  const nsOf = (p: Pod) => input.cluster.namespaces.get(p.namespace);
  const srcMesh = inMesh(nsOf(src), src);
  const dstMesh = inMesh(nsOf(dst), dst);
  const mesh = (p: Pod, on: boolean) =>
    on ? `${p.namespace}/${p.name} is in the mesh` : `${p.namespace}/${p.name} is not in the mesh`;
  stages.push({
    stage: 'enrollment',
    result: 'info',
    reason: `${mesh(src, srcMesh)}; ${mesh(dst, dstMesh)}`,
  });

  const namespaces = new Map(
    [...input.cluster.namespaces].map(([n, v]) => [n, { labels: { ...v.labels } }]),
  );
  const netpol = (direction: 'egress' | 'ingress') => {
    const d = evaluateNetworkPolicies({
      policies: [...(input.cluster.networkPolicies?.values() ?? [])],
      namespaces,
      direction,
      subject: podEndpoint(direction === 'egress' ? src : dst),
      peer: podEndpoint(direction === 'egress' ? dst : src),
      port: target.port,
      protocol,
    });
    // weft enforces NetworkPolicy for pods in the mesh; for others it only says what the
    // policy would decide (a CNI may enforce it), and the verdict does not count it.
    const subject = direction === 'egress' ? src : dst;
    const enforced = direction === 'egress' ? srcMesh : dstMesh;
    if (!enforced && d.verdict === 'deny') {
      stages.push({
        stage: `${direction} NetworkPolicy`,
        result: 'skip',
        ...(d.selectedBy[0] ? { object: d.selectedBy.join(', ') } : {}),
        reason: `not enforced by weft: ${subject.namespace}/${subject.name} is not in the mesh (${d.reason})`,
      });
      return;
    }
    stages.push({
      stage: `${direction} NetworkPolicy`,
      result: d.verdict,
      ...(d.matched
        ? { object: d.matched.policy, rule: d.matched.rule }
        : d.selectedBy[0]
          ? { object: d.selectedBy.join(', ') }
          : {}),
      reason: d.reason,
    });
  };
  if (target.judged && srcMesh) {
    serviceEgress(stages, input, target.judged);
    if (!target.judged.some((j) => j.allow) || !target.known) return done();
  } else {
    netpol('egress');
    if (!target.known) return done();
  }

  const srcId = spiffeId(input.trustDomain, src.namespace, src.serviceAccountName);
  const strict = isStrict(nsOf(dst), input.mtlsDefault);
  if (udp) {
    udpIdentity(stages, { src, dst, srcMesh, dstMesh, strict });
    netpol('ingress');
    stages.push({
      stage: 'AuthorizationPolicy',
      result: 'skip',
      reason:
        'AuthorizationPolicy governs TCP (as in Istio): UDP never reaches the proxy, and NetworkPolicy decides it in the kernel',
    });
    return done();
  }
  if (srcMesh && dstMesh) {
    stages.push({
      stage: 'mTLS identity',
      result: 'info',
      reason: `HBONE: ${dstKey} sees the verified identity ${srcId}`,
    });
  } else if (dstMesh && strict) {
    stages.push({
      stage: 'mTLS identity',
      result: 'deny',
      object: dst.namespace,
      reason: `${dst.namespace} is strict mTLS (${MTLS_LABEL} label or the mesh default): plaintext from outside the mesh is refused`,
    });
  } else if (dstMesh) {
    stages.push({
      stage: 'mTLS identity',
      result: 'info',
      reason: 'plaintext peer, admitted in permissive mode with no identity',
    });
  } else {
    stages.push({
      stage: 'mTLS identity',
      result: 'skip',
      reason: `${dstKey} is not in the mesh: no mTLS`,
    });
  }
  netpol('ingress');

  if (!dstMesh) {
    stages.push({
      stage: 'AuthorizationPolicy',
      result: 'skip',
      reason: `${dstKey} is not in the mesh: AuthorizationPolicy is enforced by the mesh proxy only`,
    });
    return done();
  }
  // The proxy judges the normalized target (policy/http-path.ts): so does the trace.
  const target7 = input.http ? normalizeTarget(input.http.path) : undefined;
  if (input.http && target7 === undefined) {
    stages.push({
      stage: 'L7',
      result: 'deny',
      reason: `${input.http.path} is not an origin-form request target: the proxy answers 400`,
    });
    return done();
  }
  const policies = [...(input.cluster.authorizationPolicies?.values() ?? [])];
  // The proxy reads a port as HTTP only where an HTTP rule needs it (policy/authz-l7.ts).
  // A rate limit on the port has it read as HTTP too (compile/rate-limits.ts).
  const limit = rateLimitOf(input.cluster, dst, target.port);
  const l7 = limit !== undefined || servesHttp(policies, input.rootNamespace, dst, target.port);
  if (input.http && !l7) {
    stages.push({
      stage: 'L7',
      result: 'info',
      reason: `port ${target.port} of ${dstKey} is not read as HTTP (no HTTP rule can match on it, or the pod names it tcp): the request is judged as TCP, per connection`,
    });
  }
  const http = input.http && l7 ? { ...input.http, path: target7! } : undefined;
  const a = evaluateAuthorization({
    policies,
    rootNamespace: input.rootNamespace,
    workload: { namespace: dst.namespace, labels: { ...dst.labels } },
    source: srcMesh
      ? { principal: principal(srcId), namespace: src.namespace, ip: src.podIP ?? '' }
      : { ip: src.podIP ?? '' },
    destination: { ip: dst.podIP ?? '', port: target.port },
    ...(http ? { http } : {}),
  });
  for (const s of a.stages) {
    const result: StageResult =
      s.stage === 'AUDIT'
        ? 'info'
        : s.result === 'match'
          ? s.stage === 'DENY'
            ? 'deny'
            : 'allow'
          : s.result === 'default-deny'
            ? 'deny'
            : s.result === 'default-allow'
              ? 'allow'
              : 'skip';
    stages.push({
      stage: `AuthorizationPolicy ${s.stage}`,
      result,
      ...(s.policy ? { object: s.policy } : {}),
      ...(s.rule !== undefined ? { rule: s.rule } : {}),
      reason: s.reason,
    });
  }
  if (http) {
    stages.push({
      stage: 'L7',
      result: a.verdict,
      reason: `${http.method} ${http.path}${http.path !== input.http!.path ? ` (as ${input.http!.path} normalizes)` : ''} is ${a.verdict === 'allow' ? 'allowed' : 'answered 403'}; the connection stays open`,
    });
  }
  if (http && limit && a.verdict === 'allow')
    stages.push({
      stage: 'rate limit',
      result: 'info',
      object: `${limit.namespace}/${limit.name}`,
      reason: describeLimit(limit, input.trustDomain, srcMesh ? srcId : undefined),
    });
  return done();
}

/** UDP is not tunnelled: strict mTLS can only go by the source address. */
function udpIdentity(
  stages: TraceStage[],
  o: { src: Pod; dst: Pod; srcMesh: boolean; dstMesh: boolean; strict: boolean },
): void {
  const { src, dst } = o;
  if (!o.dstMesh) {
    stages.push({
      stage: 'mTLS identity',
      result: 'skip',
      reason: `${dst.namespace}/${dst.name} is not in the mesh: no mTLS`,
    });
  } else if (o.strict && !o.srcMesh) {
    stages.push({
      stage: 'mTLS identity',
      result: 'deny',
      object: dst.namespace,
      reason: `${dst.namespace} is strict mTLS (${MTLS_LABEL} label or the mesh default): UDP from outside the mesh is refused (answers to what the pod sent pass)`,
    });
  } else if (o.strict) {
    stages.push({
      stage: 'mTLS identity',
      result: 'info',
      reason: `UDP is not tunnelled: strict mTLS admits it because ${src.podIP ?? 'the source'} is the address of ${src.namespace}/${src.name}, a mesh pod; no identity is verified`,
    });
  } else {
    stages.push({
      stage: 'mTLS identity',
      result: 'info',
      reason: 'UDP is not tunnelled: admitted in permissive mode with no identity',
    });
  }
}
