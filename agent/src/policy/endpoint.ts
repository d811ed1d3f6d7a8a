// A pod as the policy evaluators see it.
import type { Pod } from '../state/types.ts';
import type { Endpoint } from './netpol-eval.ts';

export function podEndpoint(p: Pod): Endpoint {
  return {
    ip: p.podIP ?? '',
    pod: {
      namespace: p.namespace,
      name: p.name,
      labels: { ...p.labels },
      ports: p.ports.map((c) => ({ ...c })),
    },
  };
}
