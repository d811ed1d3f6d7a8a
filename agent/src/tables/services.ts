// The proxy's Service table: ClusterIP port → its endpoints.

/** `ip:port` of a ClusterIP port, the key the proxy looks an original destination up by. */
export function vipKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

export type { Endpoint, ServiceTarget } from '../state/index.ts';
