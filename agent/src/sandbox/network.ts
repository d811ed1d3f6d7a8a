// The sandbox's closed network. Nodes are namespaces joined to one router
// namespace of the sandbox's own; pods are namespaces with a veth to their
// node. Routes cover the sandbox's ranges only: nothing leads off the machine.
import { spawnSync } from 'node:child_process';
import { addNetns, delNetns, ipIn, netnsPath } from './host.ts';
import type { NodeLayout, SandboxLayout } from './topology.ts';

function sysctl(netns: string, ...settings: string[]): void {
  const r = spawnSync('nsenter', [`--net=${netnsPath(netns)}`, 'sysctl', '-q', '-w', ...settings], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sysctl in ${netns}: ${r.stderr.trim()}`);
}

export function buildUnderlay(l: SandboxLayout): void {
  addNetns(l.underlayNetns);
  sysctl(l.underlayNetns, 'net.ipv4.ip_forward=1');
}

export function buildNode(l: SandboxLayout, n: NodeLayout): void {
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
}

export function buildPod(l: SandboxLayout, n: NodeLayout, slot: number, ip: string): void {
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
}

/** Removing the pod's netns removes its veth pair and the node's route with it. */
export function removePod(l: SandboxLayout, slot: number): void {
  delNetns(l.podNetns(slot));
}
