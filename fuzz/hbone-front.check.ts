// The HBONE front's fuzz context and invariants, shared by the fuzz target
// (hbone-front.fuzz.ts) and the corpus replay in make test.

import {
  checkConnect,
  type FrontContext,
  type FrontPeer,
  type FrontVerdict,
} from '../agent/src/proxy/hbone/front.ts';
import type { Pod } from '../agent/src/state/types.ts';

/** One input: the CONNECT's headers as Node hands them over, and the verified peer. */
export interface FrontInput {
  headers: Record<string, unknown>;
  peer: FrontPeer;
}

const pod = (namespace: string, name: string, sa: string, ip: string): Pod => ({
  namespace,
  name,
  labels: {},
  annotations: {},
  serviceAccountName: sa,
  nodeName: 'node-1',
  ports: [],
  podIP: ip,
});

export const POD_IP = '10.0.2.7';
export const CLIENT = pod('shop', 'client', 'client', '10.0.1.5');
export const OTHER = pod('shop', 'other', 'other', '10.0.1.6');
export const V6 = pod('shop', 'six', 'client', 'fd00::15');

export const CONTEXT: FrontContext = {
  podIP: POD_IP,
  trustDomain: 'cluster.local',
  podsByIP: new Map([CLIENT, OTHER, V6].map((p) => [p.podIP!, p])),
};

const STATUSES = new Set([400, 403, 404, 405]);

/** What must hold for any input; the reason it does not, or undefined. */
export function violation(input: FrontInput): string | undefined {
  let v: FrontVerdict;
  try {
    v = checkConnect(input.headers, input.peer, CONTEXT);
  } catch (e) {
    return `threw: ${(e as Error).stack ?? e}`;
  }
  if (!v.ok) {
    if (!STATUSES.has(v.status)) return `status ${v.status}`;
    if (typeof v.detail !== 'string' || v.detail.length > 512 + (input.peer.id?.length ?? 0))
      return `detail of ${v.detail?.length} characters`;
    return undefined;
  }
  if (input.headers[':method'] !== 'CONNECT') return 'admitted a method other than CONNECT';
  if (v.ip !== POD_IP) return `admitted target ${v.ip}`;
  if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535) return `admitted port ${v.port}`;
  const p = CONTEXT.podsByIP.get(v.sourceIp);
  if (!p) return `admitted source ${v.sourceIp}, no pod's`;
  if (input.peer.id !== `spiffe://cluster.local/ns/${p.namespace}/sa/${p.serviceAccountName}`)
    return `admitted source ${v.sourceIp} (${p.name}) for ${input.peer.id}`;
  return undefined;
}
