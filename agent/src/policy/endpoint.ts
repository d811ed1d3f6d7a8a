// A pod as the policy evaluators see it.
import type { Pod } from '../state/index.ts';
import type { Endpoint } from './netpol-eval.ts';

/** `ip`: the pod's address a connection used (a dual-stack pod has two); its primary by default. */
export function podEndpoint(p: Pod, ip = p.podIP ?? ''): Endpoint {
  return {
    ip,
    pod: {
      namespace: p.namespace,
      name: p.name,
      labels: { ...p.labels },
      ports: p.ports.map((c) => ({ ...c })),
    },
  };
}
