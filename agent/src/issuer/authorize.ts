// Which identities a node may obtain: those of service accounts of pods
// scheduled on that node. Pure, so the rule is unit-tested on its own.
import { parseSpiffeId } from '../identity/spiffe/index.ts';
import type { ClusterObjects } from '../state/index.ts';

export type Decision = { ok: true } | { ok: false; reason: string };

export function mayIssue(
  objs: ClusterObjects,
  trustDomain: string,
  node: string,
  spiffeId: string,
): Decision {
  let id: ReturnType<typeof parseSpiffeId>;
  try {
    id = parseSpiffeId(spiffeId);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (id.trustDomain !== trustDomain) {
    return {
      ok: false,
      reason: `trust domain ${id.trustDomain} is not this issuer's (${trustDomain})`,
    };
  }
  for (const p of objs.pods.values()) {
    if (
      p.nodeName === node &&
      p.namespace === id.namespace &&
      p.serviceAccountName === id.serviceAccount
    ) {
      return { ok: true };
    }
  }
  return {
    ok: false,
    reason: `node ${node} runs no pod with service account ${id.namespace}/${id.serviceAccount}`,
  };
}
