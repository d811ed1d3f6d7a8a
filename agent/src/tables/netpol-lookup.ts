// Reading a NetworkPolicy decision table (decisions.ts): the peer's address,
// then the port. No allocation on the way (an ipBlock table parses the address).

import { type ContainerPort, parseIP, unmap } from '../state/index.ts';
import type { NetpolRuleRef, NetpolTable } from './decisions.ts';

function rulesFor(t: NetpolTable, ip: string): readonly number[] {
  const pod = t.byPod.get(ip);
  if (pod) return pod;
  if (t.prefixes.length === 0) return t.any;
  const parsed = parseIP(ip);
  if (!parsed) return t.any;
  const a = unmap(parsed);
  for (const level of t.prefixes) {
    if (level.family !== a.family) continue;
    const hit = level.nets.get(a.value >> level.shift);
    if (hit) return hit;
  }
  return t.any;
}

function portIn(r: NetpolRuleRef, port: number, dstPorts: readonly ContainerPort[] | undefined) {
  if (r.allPorts) return true;
  const rs = r.ranges;
  for (let i = 0; i < rs.length; i += 2) if (port >= rs[i]! && port <= rs[i + 1]!) return true;
  if (r.named.length === 0 || !dstPorts) return false;
  for (const c of dstPorts)
    if (
      c.containerPort === port &&
      c.protocol === 'TCP' &&
      c.name !== undefined &&
      r.named.includes(c.name)
    )
      return true;
  return false;
}

/**
 * The rule that allows a TCP connection with `ip` on the other side to `port`; undefined when
 * none does (a denial, if the table isolates). `dstPorts`: the container ports of the pod at
 * the destination, for an egress rule's named ports.
 */
export function allowingRule(
  t: NetpolTable,
  ip: string,
  port: number,
  dstPorts?: readonly ContainerPort[],
): NetpolRuleRef | undefined {
  for (const n of rulesFor(t, ip)) {
    const r = t.rules[n]!;
    if (portIn(r, port, dstPorts)) return r;
  }
  return undefined;
}
