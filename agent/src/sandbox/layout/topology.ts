// Names and addresses of a sandbox, derived from its name alone, so `down`
// can find everything even when the state file is gone. Pure.
import { join } from 'node:path';
import { PIN_ROOT, RUN_ROOT } from '../../config/index.ts';

const NAME = /^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/;

export function checkSandboxName(name: string): void {
  if (!NAME.test(name)) {
    throw new Error(
      `sandbox name '${name}': use 1-12 lowercase letters, digits or '-' (it prefixes namespace names)`,
    );
  }
}

export const STATE_ROOT = join(RUN_ROOT, 'sandbox');

export interface NodeLayout {
  readonly index: number;
  readonly name: string;
  readonly netns: string;
  /** Address on the underlay link, and the router's end of it. */
  readonly underlayIP: string;
  readonly routerIP: string;
  /** Pod CIDR and the gateway address every pod of the node routes through. */
  readonly podCIDR: string;
  readonly gateway: string;
  /**
   * The same in IPv6, used when the sandbox is dual stack: ULA ranges that
   * mirror the IPv4 ones (fd00:10:250:<i>::/64 underlay, fd00:10:244:<i>::/64 pods).
   */
  readonly underlayIP6: string;
  readonly routerIP6: string;
  readonly podCIDR6: string;
  readonly gateway6: string;
}

/** The sandbox's IPv6 ranges, all inside SANDBOX_V6 (the pods' only IPv6 route). */
export const SANDBOX_V6 = 'fd00:10::/32';
export const PODS_V6 = 'fd00:10:244::/48';
export const NODES_V6 = 'fd00:10:250::/48';

export function sandboxLayout(name: string) {
  checkSandboxName(name);
  const prefix = `weft-${name}`;
  return {
    prefix,
    underlayNetns: `${prefix}-net`,
    /** Relative to the cgroup2 mount. */
    cgroup: prefix,
    pinRoot: join(PIN_ROOT, name),
    stateDir: join(STATE_ROOT, name),
    node(index: number): NodeLayout {
      return {
        index,
        name: `node-${index}`,
        netns: `${prefix}-n${index}`,
        underlayIP: `10.250.${index}.2`,
        routerIP: `10.250.${index}.1`,
        podCIDR: `10.244.${index}.0/24`,
        gateway: `10.244.${index}.1`,
        underlayIP6: `fd00:10:250:${index}::2`,
        routerIP6: `fd00:10:250:${index}::1`,
        podCIDR6: `fd00:10:244:${index}::/64`,
        gateway6: `fd00:10:244:${index}::1`,
      };
    },
    podNetns(slot: number): string {
      return `${prefix}-p${slot}`;
    },
    /** The node-side veth of a pod (interface names stop at 15 characters). */
    podVeth(slot: number): string {
      return `p${slot}`;
    },
  };
}

export type SandboxLayout = ReturnType<typeof sandboxLayout>;

/** The first free host address of a node's /24 (2..254), or undefined when full. */
export function nextPodIP(node: NodeLayout, taken: ReadonlySet<string>): string | undefined {
  const base = node.podCIDR.replace(/\.0\/24$/, '');
  for (let h = 2; h < 255; h++) {
    const ip = `${base}.${h}`;
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

/** A pod's IPv6 address: the same host number as its IPv4 one, in the node's /64. */
export function podIP6(node: NodeLayout, ip: string): string {
  const host = Number(ip.slice(ip.lastIndexOf('.') + 1));
  return `${node.podCIDR6.replace(/::\/64$/, '')}::${host.toString(16)}`;
}

/** The first free IPv6 ClusterIP in fd00:10:96::/112, from fd00:10:96::a. */
export function nextClusterIP6(taken: ReadonlySet<string>): string | undefined {
  for (let i = 10; i < 65534; i++) {
    const ip = `fd00:10:96::${i.toString(16)}`;
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

/** The first free ClusterIP in 10.96.0.0/16, from 10.96.0.10. */
export function nextClusterIP(taken: ReadonlySet<string>): string | undefined {
  for (let i = 10; i < 65534; i++) {
    const ip = `10.96.${i >> 8}.${i & 255}`;
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}
