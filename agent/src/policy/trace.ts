// The explanation of one connection, stage by stage, in the order the mesh
// decides it: enrollment, Service resolution, egress NetworkPolicy (connect()),
// mTLS identity, ingress NetworkPolicy, AuthorizationPolicy DENY/ALLOW/AUDIT
// (and the HTTP request, when given). Pure: `weft policy trace` and, once wired
// in, the agent evaluate with these same functions.

import { inMesh, isStrict, MTLS_LABEL, type MtlsMode } from '../compile/enrollment.ts';
import { principal, spiffeId } from '../identity/spiffe.ts';
import type { ClusterObjects, Pod } from '../state/types.ts';
import { evaluateAuthorization } from './authz-eval.ts';
import { servesHttp } from './authz-l7.ts';
import type { AuthzRequest } from './authz-types.ts';
import { podEndpoint } from './endpoint.ts';
import { normalizeTarget } from './http-path.ts';
import { evaluateNetworkPolicies } from './netpol-eval.ts';

export type StageResult = 'allow' | 'deny' | 'info' | 'skip';

export interface TraceStage {
  readonly stage: string;
  readonly result: StageResult;
  /** `namespace/name` of the object that decided, when one did. */
  readonly object?: string;
  readonly rule?: number;
  readonly reason: string;
}

export interface Trace {
  readonly verdict: 'allow' | 'deny';
  readonly from: string;
  readonly to: string;
  readonly port: number;
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
  readonly http?: AuthzRequest;
  /** The mesh-wide mTLS mode for namespaces without a weft.dev/mtls label (default permissive). */
  readonly mtlsDefault?: MtlsMode;
}

/** Where `to` leads: the pod and the port on it, or why nowhere. */
function resolveTarget(
  input: TraceInput,
  stages: TraceStage[],
): { pod: Pod; port: number } | undefined {
  const parts = input.to.split('/');
  if (parts.length === 3 && parts[1] === 'svc') {
    const key = `${parts[0]}/${parts[2]}`;
    const svc = input.cluster.services.get(key);
    if (!svc) {
      stages.push({ stage: 'service', result: 'deny', object: key, reason: `no Service ${key}` });
      return undefined;
    }
    const sp = svc.ports.find((p) => p.port === input.port && p.protocol === 'TCP');
    if (!sp) {
      stages.push({
        stage: 'service',
        result: 'deny',
        object: key,
        reason: `Service ${key} has no TCP port ${input.port}`,
      });
      return undefined;
    }
    const sel = Object.entries(svc.selector);
    const backends = [...input.cluster.pods.values()]
      .filter(
        (p) =>
          sel.length > 0 &&
          p.namespace === svc.namespace &&
          sel.every(([k, v]) => p.labels[k] === v),
      )
      .map((p) => ({
        pod: p,
        port:
          typeof sp.targetPort === 'number'
            ? sp.targetPort
            : p.ports.find((c) => c.name === sp.targetPort)?.containerPort,
      }))
      .filter((b): b is { pod: Pod; port: number } => b.port !== undefined)
      .sort((a, b) => (a.pod.name < b.pod.name ? -1 : 1));
    const first = backends[0];
    if (!first) {
      stages.push({
        stage: 'service',
        result: 'deny',
        object: key,
        reason: `Service ${key} port ${input.port} has no endpoints`,
      });
      return undefined;
    }
    stages.push({
      stage: 'service',
      result: 'info',
      object: key,
      reason: `port ${input.port} → ${backends.length} endpoint(s); tracing ${first.pod.namespace}/${first.pod.name}:${first.port}`,
    });
    return first;
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
  return { pod, port: input.port };
}

export function tracePolicy(input: TraceInput): Trace {
  const stages: TraceStage[] = [];
  const done = (): Trace => ({
    verdict: stages.some((s) => s.result === 'deny') ? 'deny' : 'allow',
    from: input.from,
    to: input.to,
    port: input.port,
    stages,
  });
  const src = input.cluster.pods.get(input.from);
  if (!src) {
    stages.push({ stage: 'source', result: 'deny', reason: `no pod ${input.from}` });
    return done();
  }
  const target = resolveTarget(input, stages);
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
      protocol: 'TCP',
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
  netpol('egress');

  const srcId = spiffeId(input.trustDomain, src.namespace, src.serviceAccountName);
  const strict = isStrict(nsOf(dst), input.mtlsDefault);
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
  const l7 = servesHttp(policies, input.rootNamespace, dst, target.port);
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
  return done();
}
