// A pod's and a Service's addresses, whichever fields a source filled: one
// rule for every compiler, so no address of a dual-stack pod is forgotten.
import type { Pod, Service } from './types.ts';

const none: readonly string[] = [];

/** Every address of a pod (status.podIPs), status.podIP first; empty until assigned. */
export function podIPsOf(p: Pod): readonly string[] {
  return p.podIPs ?? (p.podIP ? [p.podIP] : none);
}

/** Every ClusterIP of a Service (spec.clusterIPs), spec.clusterIP first. */
export function clusterIPsOf(s: Service): readonly string[] {
  return s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : none);
}

export const isIPv6 = (ip: string): boolean => ip.includes(':');

/** `ip:port`, an IPv6 address in brackets (`[fd00::5]:80`), as in a URL or :authority. */
export function hostPort(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Of a pod's addresses, the one of ip's family (what a connection to ip leaves from). */
export function sameFamily(addresses: readonly string[], ip: string): string | undefined {
  const v6 = isIPv6(ip);
  for (const a of addresses) if (isIPv6(a) === v6) return a;
  return undefined;
}
