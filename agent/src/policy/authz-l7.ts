// Which ports of a workload are read as HTTP: L7 is decided per (workload, port), never
// per workload, so an HTTP rule for one port leaves the workload's other ports byte for
// byte. A port is read as HTTP when a rule with HTTP fields that applies to the workload
// can match on it (its `ports`, `notPorts` and `destination.port` conditions let it in),
// unless the pod declares that port plain TCP (container port named `tcp` or `tcp-*`, the
// Istio naming). On a port not read as HTTP the evaluator follows Istio for TCP traffic: an
// ALLOW rule with HTTP fields never matches, a DENY or AUDIT rule is matched on its other
// fields (denying more). Both fail closed. docs/authorization-policy.md says the same.

import type { AuthorizationPolicy, AuthzOperation, AuthzRule } from '../state/index.ts';
import { applies } from './authz-eval.ts';
import { matchPort } from './authz-match.ts';

const HTTP_FIELDS = ['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts'] as const;

function operationHasHttp(o: AuthzOperation): boolean {
  return HTTP_FIELDS.some((f) => o[f].length > 0);
}

function admits(o: AuthzOperation, port: number): boolean {
  return (
    (o.ports.length === 0 || o.ports.some((v) => matchPort(v, port))) &&
    !o.notPorts.some((v) => matchPort(v, port))
  );
}

/** Whether the rule has any HTTP field, on whatever port. */
export function hasHttpFields(rule: AuthzRule): boolean {
  return (
    (rule.to ?? []).some(operationHasHttp) ||
    (rule.when ?? []).some((c) => c.key.startsWith('request.headers['))
  );
}

/** Whether the rule has HTTP fields that take part in matching a connection to `port`. */
export function ruleNeedsHttp(rule: AuthzRule, port: number): boolean {
  for (const c of rule.when ?? []) {
    if (c.key !== 'destination.port') continue;
    if (c.values.length > 0 && !c.values.some((v) => matchPort(v, port))) return false;
    if (c.notValues.some((v) => matchPort(v, port))) return false;
  }
  const to = rule.to ?? [];
  if (to.some((o) => operationHasHttp(o) && admits(o, port))) return true;
  const headers = (rule.when ?? []).some((c) => c.key.startsWith('request.headers['));
  return headers && (to.length === 0 || to.some((o) => admits(o, port)));
}

/** Whether the pod declares `port` plain TCP: Istio's `tcp` / `tcp-*` port names. */
export function declaredTcp(
  ports: readonly { readonly name?: string; readonly containerPort: number }[],
  port: number,
): boolean {
  return ports.some(
    (p) => p.containerPort === port && (p.name === 'tcp' || p.name?.startsWith('tcp-') === true),
  );
}

/** Whether connections to the workload's `port` are read as HTTP, request by request. */
export function servesHttp(
  policies: readonly AuthorizationPolicy[],
  rootNamespace: string,
  workload: {
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly ports: readonly { readonly name?: string; readonly containerPort: number }[];
  },
  port: number,
): boolean {
  if (policies.length === 0 || declaredTcp(workload.ports, port)) return false;
  return policies.some(
    (p) =>
      applies(p, { workload, rootNamespace }) &&
      (p.rules ?? []).some((r) => ruleNeedsHttp(r, port)),
  );
}
