// The cluster as the sandbox made it: the user's objects plus what a cluster
// would fill in (pod IPs, host IPs, ClusterIPs) and where each pod lives
// (netns and cgroup annotations). Agents read this directory. Pure.
import { stringify } from 'yaml';
import { CGROUP_ANNOTATION, NETNS_ANNOTATION } from '../compile/index.ts';
import type { ClusterObjects } from '../state/index.ts';

export interface Placement {
  ip: string;
  /** Dual stack: the pod's IPv6 address, its second status.podIPs entry. */
  ip6?: string;
  hostIP: string;
  netnsPath: string;
  cgroupDir: string;
}

export function renderResolved(
  objs: ClusterObjects,
  placements: ReadonlyMap<string, Placement>,
  clusterIPs: ReadonlyMap<string, readonly string[]>,
): string {
  const docs: unknown[] = [];
  for (const ns of [...objs.namespaces.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    docs.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns.name, labels: { ...ns.labels } },
    });
  }
  for (const [key, p] of [...objs.pods].sort(([a], [b]) => a.localeCompare(b))) {
    const at = placements.get(key);
    if (!at) continue;
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        labels: { ...p.labels },
        annotations: {
          ...p.annotations,
          [NETNS_ANNOTATION]: at.netnsPath,
          [CGROUP_ANNOTATION]: at.cgroupDir,
        },
      },
      spec: {
        nodeName: p.nodeName,
        serviceAccountName: p.serviceAccountName,
        containers: [{ name: 'app', ports: p.ports.map((cp) => ({ ...cp })) }],
      },
      status: {
        podIP: at.ip,
        ...(at.ip6 ? { podIPs: [{ ip: at.ip }, { ip: at.ip6 }] } : {}),
        hostIP: at.hostIP,
      },
    });
  }
  for (const [key, s] of [...objs.services].sort(([a], [b]) => a.localeCompare(b))) {
    const ips = clusterIPs.get(key) ?? [];
    const families = ips.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4'));
    docs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace: s.namespace },
      spec: {
        selector: { ...s.selector },
        ports: s.ports.map((sp) => ({ ...sp })),
        ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
        ...(ips.length ? { clusterIP: ips[0] } : {}),
        ...(ips.length > 1
          ? {
              clusterIPs: [...ips],
              ipFamilies: families,
              ipFamilyPolicy: s.ipFamilyPolicy ?? 'PreferDualStack',
            }
          : {}),
      },
    });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}
