import type { Namespace, Pod, Service, Snapshot } from '../../../agent/src/state/types.ts';

export function pod(ns: string, name: string, over: Partial<Pod> = {}): Pod {
  return {
    namespace: ns,
    name,
    labels: {},
    annotations: {
      'weft.dev/netns-path': `/var/run/netns/${name}`,
      'weft.dev/cgroup-path': `/cg/${name}`,
    },
    serviceAccountName: 'default',
    nodeName: 'n1',
    ports: [],
    podIP: '10.0.0.1',
    ...over,
  };
}

export function snapshot(parts: {
  namespaces?: Namespace[];
  pods?: Pod[];
  services?: Service[];
}): Snapshot {
  return {
    version: 1,
    namespaces: new Map((parts.namespaces ?? []).map((n) => [n.name, n])),
    pods: new Map((parts.pods ?? []).map((p) => [`${p.namespace}/${p.name}`, p])),
    services: new Map((parts.services ?? []).map((s) => [`${s.namespace}/${s.name}`, s])),
  };
}
