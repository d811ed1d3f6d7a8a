// A cluster on one host. The controller (this class, in whichever process ran
// `up`) builds the network, turns the user's manifests into pods with
// addresses and cgroups, writes the resolved cluster for the agents, and runs
// one agent per node inside that node's netns and cgroup.

import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { TRUST_DOMAIN } from '../config/index.ts';
import { cgroup2Root } from '../datapath/index.ts';
import { type CaStore, IssuerServer, openCaStore } from '../issuer/index.ts';
import { ManifestSource } from '../sources/manifests/index.ts';
import type { Snapshot } from '../state/index.ts';
import { constants } from '../tables/index.ts';
import { type RestartResult, restartAgent, spawnAgent, waitForAgent } from './agent-process.ts';
import { addCgroup, delCgroupTree, delNetns, delPinDir, NETNS_DIR, netnsPath } from './host.ts';
import {
  loadSandboxState,
  type NodeState,
  type SandboxState,
  saveSandboxState,
} from './layout/state.ts';
import {
  nextClusterIP,
  nextClusterIP6,
  nextPodIP,
  podIP6,
  type SandboxLayout,
  sandboxLayout,
} from './layout/topology.ts';
import { buildNode, buildPod, buildUnderlay, removePod } from './network.ts';
import { copyPolicies } from './policies.ts';
import { type Placement, renderResolved } from './resolved.ts';

export interface SandboxOptions {
  name: string;
  nodes: number;
  manifests: string;
  splice?: boolean;
  /** Nodes and pods get IPv6 addresses too (status.podIPs); Services may be dual stack. */
  dualStack?: boolean;
  /** Agents' --hbone-keepalive, seconds (default: the agent's). */
  hboneKeepaliveSeconds?: number;
  /** More flags for every agent, e.g. tighter HBONE bounds in a test. */
  agentArgs?: string[];
  /** mTLS between nodes through an in-process issuer (default on). */
  mtls?: boolean;
  /** SVID lifetime the issuer grants (default 24 h); short in renewal tests. */
  svidLifetimeMs?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { TRUST_DOMAIN };

export class Sandbox {
  readonly layout: SandboxLayout;
  readonly state: SandboxState;
  private readonly opts: SandboxOptions;
  private source: ManifestSource | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;
  private snapshot: Snapshot | null = null;
  private issuer: IssuerServer | null = null;
  private caStore: CaStore | null = null;
  /** The CA directory of the in-process issuer (roots.pem is its trust bundle). */
  readonly caDir: string;
  private readonly tokens = new Map<string, string>();

  private constructor(opts: SandboxOptions) {
    this.opts = opts;
    this.layout = sandboxLayout(opts.name);
    this.log = opts.log ?? (() => {});
    this.caDir = join(this.layout.stateDir, 'ca');
    const cg = join(cgroup2Root(), this.layout.cgroup);
    this.state = {
      name: opts.name,
      manifests: opts.manifests,
      resolvedDir: join(this.layout.stateDir, 'resolved'),
      controllerPid: process.pid,
      ready: false,
      ...(opts.dualStack ? { dualStack: true } : {}),
      nodes: Array.from({ length: opts.nodes }, (_, i) => {
        const n = this.layout.node(i + 1);
        return {
          name: n.name,
          index: n.index,
          netns: n.netns,
          cgroupRoot: join(cg, n.name),
          pinRoot: join(this.layout.pinRoot, n.name),
          adminSocket: join(this.layout.stateDir, `${n.name}.sock`),
          handoverSocket: join(this.layout.stateDir, `${n.name}.handover.sock`),
          log: join(this.layout.stateDir, `${n.name}.log`),
          agentPid: null,
        };
      }),
      pods: [],
      services: {},
      problems: [],
    };
  }

  /** Builds the sandbox and returns once every agent answers. Cleans up if any step fails. */
  static async up(opts: SandboxOptions): Promise<Sandbox> {
    if (opts.nodes < 1 || opts.nodes > 50) throw new Error('--nodes must be between 1 and 50');
    if (!existsSync(opts.manifests))
      throw new Error(`manifest directory ${opts.manifests} does not exist`);
    const l = sandboxLayout(opts.name);
    if (existsSync(join(NETNS_DIR, l.underlayNetns))) {
      throw new Error(
        `sandbox '${opts.name}' already exists; run: weft sandbox down --name ${opts.name}`,
      );
    }
    const s = new Sandbox(opts);
    try {
      mkdirSync(s.state.resolvedDir, { recursive: true });
      buildUnderlay(s.layout, opts.dualStack);
      for (const n of s.state.nodes) {
        buildNode(s.layout, s.layout.node(n.index), opts.dualStack);
        addCgroup(s.layout.cgroup);
        mkdirSync(join(n.cgroupRoot, 'agent'), { recursive: true });
      }
      saveSandboxState(s.state);
      if (opts.mtls !== false) await s.startIssuer();
      s.source = new ManifestSource(opts.manifests);
      await s.reconcile(await s.source.start());
      s.source.on('snapshot', (snap: Snapshot) => {
        s.queue = s.queue
          .then(() => s.reconcile(snap))
          .catch((e: Error) => s.log(`reconcile: ${e.message}`));
      });
      // A broken edit leaves the snapshot as it was (last good), but the agents must
      // see the file to reject it themselves and say so in weft status.
      s.source.on('errors', () => {
        s.queue = s.queue
          .then(() => copyPolicies(opts.manifests, join(s.state.resolvedDir, 'policies')))
          .catch((e: Error) => s.log(`copy policies: ${e.message}`));
      });
      for (const n of s.state.nodes) await s.startAgent(n.name);
      s.state.ready = true;
      saveSandboxState(s.state);
    } catch (e) {
      await s.down();
      throw e;
    }
    return s;
  }

  private node(name: string): NodeState {
    const n = this.state.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`sandbox ${this.opts.name} has no node ${name}`);
    return n;
  }

  /** The issuer runs in this process; agents reach it on a unix socket with a per-node token. */
  private async startIssuer(): Promise<void> {
    const store = await openCaStore(this.caDir, TRUST_DOMAIN);
    mkdirSync(join(this.layout.stateDir, 'tokens'), { recursive: true, mode: 0o700 });
    for (const n of this.state.nodes) {
      const token = randomBytes(32).toString('hex');
      this.tokens.set(token, n.name);
      writeFileSync(join(this.layout.stateDir, 'tokens', n.name), token, { mode: 0o600 });
    }
    this.issuer = new IssuerServer({
      store,
      trustDomain: TRUST_DOMAIN,
      tokens: this.tokens,
      lifetimeMs: this.opts.svidLifetimeMs,
      cluster: () =>
        this.snapshot ?? { namespaces: new Map(), pods: new Map(), services: new Map() },
      audit: (l) => this.log(`issuer: ${l}`),
    });
    await this.issuer.listen(this.issuerSocket());
    this.caStore = store;
  }

  /** Re-reads the CA files (after a test or an operator swapped the signing CA). */
  async reloadIssuer(): Promise<void> {
    await this.caStore?.reload();
  }

  issuerSocket(): string {
    return join(this.layout.stateDir, 'issuer.sock');
  }

  tokenFile(node: string): string {
    return join(this.layout.stateDir, 'tokens', node);
  }

  /** Makes pods and ClusterIPs match the manifests, then publishes the resolved cluster. */
  private async reconcile(snap: Snapshot): Promise<void> {
    this.snapshot = snap;
    const problems: string[] = [];
    const byKey = new Map(this.state.pods.map((p) => [p.key, p]));
    for (const p of [...this.state.pods]) {
      const want = snap.pods.get(p.key);
      if (want && want.nodeName === p.node) continue;
      removePod(this.layout, p.slot);
      delCgroupTree(p.cgroup);
      byKey.delete(p.key);
    }
    const taken = new Set([...byKey.values()].map((p) => p.ip));
    let slot = Math.max(0, ...[...byKey.values()].map((p) => p.slot));
    for (const [key, pod] of snap.pods) {
      if (byKey.has(key)) continue;
      const n = this.state.nodes.find((x) => x.name === pod.nodeName);
      if (!n) {
        problems.push(
          `Pod ${key}: spec.nodeName ${pod.nodeName} is not a sandbox node (${this.state.nodes.map((x) => x.name).join(', ')})`,
        );
        continue;
      }
      const nl = this.layout.node(n.index);
      const ip = nextPodIP(nl, taken);
      if (!ip) {
        problems.push(`Pod ${key}: no address left in ${nl.podCIDR}`);
        continue;
      }
      taken.add(ip);
      slot++;
      const cgroup = join(n.cgroupRoot, `pod-${slot}`);
      const ip6 = this.opts.dualStack ? podIP6(nl, ip) : undefined;
      buildPod(this.layout, nl, slot, ip, ip6);
      mkdirSync(cgroup, { recursive: true });
      byKey.set(key, {
        key,
        node: n.name,
        slot,
        ip,
        ...(ip6 ? { ip6 } : {}),
        netns: netnsPath(this.layout.podNetns(slot)),
        cgroup,
      });
    }
    const services = this.assignClusterIPs(snap, problems);
    this.state.pods = [...byKey.values()].sort((a, b) => a.slot - b.slot);
    this.state.services = Object.fromEntries(
      [...services].map(([k, ips]) => [k, ips[0]!] as const),
    );
    if (this.opts.dualStack) this.state.clusterIPs = Object.fromEntries(services);
    this.state.problems = problems;
    const placements = new Map<string, Placement>(
      this.state.pods.map((p) => [
        p.key,
        {
          ip: p.ip,
          ...(p.ip6 ? { ip6: p.ip6 } : {}),
          hostIP: this.layout.node(this.node(p.node).index).underlayIP,
          netnsPath: p.netns,
          cgroupDir: p.cgroup,
        },
      ]),
    );
    this.agentPidsFromDisk();
    copyPolicies(this.opts.manifests, join(this.state.resolvedDir, 'policies'));
    const out = join(this.state.resolvedDir, 'cluster.yaml');
    writeFileSync(`${out}.tmp`, renderResolved(snap, placements, services));
    renameSync(`${out}.tmp`, out);
    saveSandboxState(this.state);
    for (const p of problems) this.log(p);
  }

  /**
   * Each Service's ClusterIPs, kept from earlier assignments. The families are
   * Kubernetes' rule: spec.ipFamilies when given, else IPv4 alone unless
   * ipFamilyPolicy asks for dual stack, which a single-stack sandbox grants
   * only when it merely prefers it.
   */
  private assignClusterIPs(snap: Snapshot, problems: string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const had = (key: string): string[] =>
      this.state.clusterIPs?.[key] ?? (this.state.services[key] ? [this.state.services[key]] : []);
    const used = new Set(Object.keys(this.state.services).flatMap(had));
    for (const [key, svc] of snap.services) {
      if (svc.clusterIPs?.length || svc.clusterIP) {
        out.set(key, [...(svc.clusterIPs ?? [svc.clusterIP!])]);
        continue;
      }
      const dual =
        svc.ipFamilyPolicy === 'PreferDualStack' || svc.ipFamilyPolicy === 'RequireDualStack';
      const families = svc.ipFamilies?.length
        ? svc.ipFamilies
        : dual && this.opts.dualStack
          ? (['IPv4', 'IPv6'] as const)
          : (['IPv4'] as const);
      const v6Asked = families.includes('IPv6') || svc.ipFamilyPolicy === 'RequireDualStack';
      if (v6Asked && !this.opts.dualStack) {
        problems.push(`Service ${key}: asks for IPv6, but the sandbox is IPv4 only (--dual-stack)`);
        continue;
      }
      const ips: string[] = [];
      for (const f of families) {
        const v6 = f === 'IPv6';
        const prev = had(key).find((ip) => ip.includes(':') === v6);
        const ip = prev ?? (v6 ? nextClusterIP6(used) : nextClusterIP(used));
        if (!ip) {
          problems.push(`Service ${key}: no ${f} ClusterIP left`);
          continue;
        }
        used.add(ip);
        ips.push(ip);
      }
      if (ips.length) out.set(key, ips);
    }
    return out;
  }

  /** Starts a node's agent in the node's netns and cgroup; resolves once it answers. */
  async startAgent(nodeName: string): Promise<void> {
    const n = this.node(nodeName);
    n.agentArgs = this.agentArgs(n);
    const child = spawnAgent(n, n.agentArgs);
    n.agentPid = child.pid;
    saveSandboxState(this.state);
    await waitForAgent(n, child.pid, child.exited);
  }

  /**
   * What a DaemonSet update does on the node (a new agent takes over, the old one drains
   * and exits), or with kill what a crash does; resolves when the old agent is gone.
   */
  async restartAgent(nodeName: string, opts: { kill?: boolean } = {}): Promise<RestartResult> {
    const n = this.node(nodeName);
    n.agentArgs ??= this.agentArgs(n);
    try {
      return await restartAgent(n, n.agentArgs, opts);
    } finally {
      saveSandboxState(this.state);
    }
  }

  private agentArgs(n: NodeState): string[] {
    return [
      'agent',
      '--node',
      n.name,
      '--manifests',
      this.state.resolvedDir,
      '--cgroup-root',
      n.cgroupRoot,
      '--bpffs',
      n.pinRoot,
      '--admin-socket',
      n.adminSocket,
      ...(n.handoverSocket ? ['--handover-socket', n.handoverSocket] : []),
      // Each node's metrics on its own address in the sandbox network (10.250.<i>.2:15020).
      '--metrics-port',
      String(constants.PORT_METRICS),
      ...(this.opts.splice ? ['--splice'] : []),
      ...(this.opts.hboneKeepaliveSeconds
        ? ['--hbone-keepalive', String(this.opts.hboneKeepaliveSeconds)]
        : []),
      ...(this.opts.agentArgs ?? []),
      ...(this.issuer
        ? ['--issuer', this.issuerSocket(), '--issuer-token-file', this.tokenFile(n.name)]
        : []),
    ];
  }

  /** Stops a node's agent (SIGKILL by default: a crash). Its pins stay, so pods fail closed. */
  async stopAgent(nodeName: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const n = this.node(nodeName);
    const pid = n.agentPid;
    if (pid === null) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
    for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(25);
    n.agentPid = null;
    saveSandboxState(this.state);
  }

  /** `weft sandbox restart` (another process) may have replaced an agent: keep its pid. */
  private agentPidsFromDisk(): void {
    try {
      const disk = loadSandboxState(this.opts.name);
      for (const n of this.state.nodes) {
        const d = disk.nodes.find((x) => x.name === n.name);
        if (
          d &&
          d.agentPid !== n.agentPid &&
          d.agentPid !== null &&
          existsSync(`/proc/${d.agentPid}`)
        )
          n.agentPid = d.agentPid;
      }
    } catch {
      // no state file yet
    }
  }

  /** Stops the controller's watch, the agents, and removes everything. */
  async down(): Promise<string[]> {
    this.source?.close();
    this.issuer?.close();
    await this.queue.catch(() => {});
    for (const n of this.state.nodes) await this.stopAgent(n.name, 'SIGTERM');
    return teardown(this.opts.name);
  }
}

/**
 * Removes every trace of sandbox `name`: processes (by its cgroup tree and its
 * namespaces), namespaces, cgroups, pins and the state directory. Works from
 * the names alone, so it also cleans up after a crash. Idempotent.
 */
export function teardown(name: string): string[] {
  const l = sandboxLayout(name);
  const errors: string[] = [];
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
    }
  };
  let controller: number | null = null;
  attempt('state', () => {
    controller = loadSandboxState(name).controllerPid;
  });
  // Only a process that still is this sandbox's controller (pids get reused).
  const isController = (pid: number) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmd.includes('sandbox') && cmd.includes(name);
    } catch {
      return false;
    }
  };
  if (controller !== null && controller !== process.pid && isController(controller)) {
    attempt('controller', () => {
      try {
        process.kill(controller!, 'SIGKILL');
      } catch {
        // gone already
      }
    });
  }
  attempt('cgroups', () => delCgroupTree(join(cgroup2Root(), l.cgroup)));
  if (existsSync(NETNS_DIR)) {
    const ours = new RegExp(`^${l.prefix}-(net|n\\d+|p\\d+)$`);
    for (const ns of readdirSync(NETNS_DIR)) {
      if (ours.test(ns)) {
        attempt(`netns ${ns}`, () => delNetns(ns));
      }
    }
  }
  attempt('pins', () => delPinDir(l.pinRoot));
  attempt('state dir', () => rmSync(l.stateDir, { recursive: true, force: true }));
  return errors;
}
