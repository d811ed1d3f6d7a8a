// The sandbox's closed network. Nodes are namespaces joined to one router
// namespace of the sandbox's own; pods are namespaces with a veth to their
// node. Routes cover the sandbox's ranges only: nothing leads off the machine.
// A dual-stack sandbox adds IPv6 on the same links, in ULA ranges of its own.
import { spawnSync } from 'node:child_process';
import { addNetns, delNetns, ipIn, netnsPath } from './host.ts';
import {
  NODES_V6,
  type NodeLayout,
  PODS_V6,
  SANDBOX_V6,
  type SandboxLayout,
} from './layout/topology.ts';

function sysctl(netns: string, ...settings: string[]): void {
  const r = spawnSync('nsenter', [`--net=${netnsPath(netns)}`, 'sysctl', '-q', '-w', ...settings], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sysctl in ${netns}: ${r.stderr.trim()}`);
}

export function buildUnderlay(l: SandboxLayout, dualStack = false): void {
  addNetns(l.underlayNetns);
  sysctl(l.underlayNetns, 'net.ipv4.ip_forward=1');
  if (dualStack) sysctl(l.underlayNetns, 'net.ipv6.conf.all.forwarding=1');
}

/** IPv6 with duplicate address detection off: the sandbox's addresses are unique by construction, usable at once. */
function addr6(netns: string, cidr: string, dev: string): void {
  ipIn(netns, '-6', 'addr', 'add', cidr, 'dev', dev, 'nodad');
}

export function buildNode(l: SandboxLayout, n: NodeLayout, dualStack = false): void {
  addNetns(n.netns);
  sysctl(
    n.netns,
    'net.ipv4.ip_forward=1',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
  );
  const r = `n${n.index}`;
  ipIn(l.underlayNetns, 'link', 'add', r, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns);
  ipIn(l.underlayNetns, 'addr', 'add', `${n.routerIP}/24`, 'dev', r);
  ipIn(l.underlayNetns, 'link', 'set', r, 'up');
  ipIn(l.underlayNetns, 'route', 'add', n.podCIDR, 'via', n.underlayIP);
  ipIn(n.netns, 'addr', 'add', `${n.underlayIP}/24`, 'dev', 'eth0');
  ipIn(n.netns, 'link', 'set', 'eth0', 'up');
  ipIn(n.netns, 'route', 'add', '10.244.0.0/16', 'via', n.routerIP);
  ipIn(n.netns, 'route', 'add', '10.250.0.0/16', 'via', n.routerIP);
  if (!dualStack) return;
  sysctl(n.netns, 'net.ipv6.conf.all.forwarding=1');
  addr6(l.underlayNetns, `${n.routerIP6}/64`, r);
  ipIn(l.underlayNetns, '-6', 'route', 'add', n.podCIDR6, 'via', n.underlayIP6);
  addr6(n.netns, `${n.underlayIP6}/64`, 'eth0');
  ipIn(n.netns, '-6', 'route', 'add', PODS_V6, 'via', n.routerIP6);
  ipIn(n.netns, '-6', 'route', 'add', NODES_V6, 'via', n.routerIP6);
}

/** A pod's netns and veth; ip6 (dual stack) adds its IPv6 address on the same veth. */
export function buildPod(
  l: SandboxLayout,
  n: NodeLayout,
  slot: number,
  ip: string,
  ip6?: string,
): void {
  const ns = l.podNetns(slot);
  const veth = l.podVeth(slot);
  addNetns(ns);
  ipIn(n.netns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  ipIn(n.netns, 'addr', 'add', `${n.gateway}/32`, 'dev', veth);
  ipIn(n.netns, 'link', 'set', veth, 'up');
  ipIn(n.netns, 'route', 'add', `${ip}/32`, 'dev', veth);
  ipIn(ns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
  ipIn(ns, 'link', 'set', 'eth0', 'up');
  ipIn(ns, 'route', 'add', n.gateway, 'dev', 'eth0');
  // The sandbox's own ranges only (pods, services, nodes): no default route.
  ipIn(ns, 'route', 'add', '10.0.0.0/8', 'via', n.gateway);
  if (!ip6) return;
  addr6(n.netns, `${n.gateway6}/128`, veth);
  ipIn(n.netns, '-6', 'route', 'add', `${ip6}/128`, 'dev', veth);
  addr6(ns, `${ip6}/128`, 'eth0');
  ipIn(ns, '-6', 'route', 'add', n.gateway6, 'dev', 'eth0');
  // Again the sandbox's own range only: no default route.
  ipIn(ns, '-6', 'route', 'add', SANDBOX_V6, 'via', n.gateway6);
}

/** Removing the pod's netns removes its veth pair and the node's route with it. */
export function removePod(l: SandboxLayout, slot: number): void {
  delNetns(l.podNetns(slot));
}
