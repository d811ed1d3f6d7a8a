// The agent's own share of a policy change, without the manifest directory's
// debounce: parse the changed file, compile what the agent compiles per
// snapshot (the proxy's tables, the node's kernel tables) and write the new
// table into BPF maps the way the agent does (new generation, one flip, old
// generation removed). The maps belong to a datapath of the bench's own,
// pinned inside the sandbox's pin tree and keyed by a cgroup of its own, so
// the running agents are not touched; nothing is attached.
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { compilePeerTable } from '../agent/src/compile/netpol.ts';
import { compilePolicy } from '../agent/src/compile/policy.ts';
import { NodeDatapath } from '../agent/src/datapath/node.ts';
import { cgroup2Root } from '../agent/src/datapath/system.ts';
import { checkEgress, checkIngress } from '../agent/src/proxy/authorize.ts';
import { parseManifestFile } from '../agent/src/sources/manifests/index.ts';
import { loadManifests } from '../agent/src/sources/manifests/load.ts';
import type { Snapshot } from '../agent/src/state/types.ts';
import type { PolicyBench } from './policy-sandbox.ts';
import { stats } from './policy-sandbox.ts';

export interface AgentSide {
  parse: { median: number; p90: number };
  compile: { median: number; p90: number };
  write: { median: number; p90: number };
  /** The proxy's decisions for the first connection client → server after the change (egress + ingress). */
  decide: { median: number; p90: number };
  entries: number;
}

/** `rounds` changes between two versions of a policy file, timed step by step. */
export function measureAgentSide(
  b: PolicyBench,
  variants: readonly [string, string],
  rounds: number,
): AgentSide {
  const base = loadManifests([b.sandbox.state.resolvedDir]).cluster;
  const cg = join(cgroup2Root(), b.sandbox.layout.cgroup, 'bench-side');
  mkdirSync(cg, { recursive: true });
  const dp = new NodeDatapath({
    cgroupRoot: cg,
    pinRoot: join(b.sandbox.layout.pinRoot, 'bench-side'),
  });
  const client = base.pods.get('bench/client')!;
  const at = { cgroupDir: cg, podIP: client.podIP!, netnsPath: b.pod('client').netnsPath };
  const server = base.pods.get('bench/server')!;
  const times = {
    parse: [] as number[],
    compile: [] as number[],
    write: [] as number[],
    decide: [] as number[],
  };
  let entries = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      const text = variants[i % 2]!;
      let t = performance.now();
      const parsed = parseManifestFile('change.yaml', text);
      if (parsed.errors.length) throw new Error(JSON.stringify(parsed.errors));
      times.parse.push(performance.now() - t);
      const networkPolicies = new Map(base.networkPolicies);
      const authorizationPolicies = new Map(base.authorizationPolicies);
      for (const o of parsed.objects) {
        if (o.kind === 'NetworkPolicy')
          networkPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
        if (o.kind === 'AuthorizationPolicy')
          authorizationPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
      }
      const snap: Snapshot = { ...base, version: i + 1, networkPolicies, authorizationPolicies };
      t = performance.now();
      const tables = compilePolicy(snap, 'cluster.local', 'weft-system');
      const egress = compilePeerTable(snap, client.namespace, client.labels, 'egress');
      compilePeerTable(snap, client.namespace, client.labels, 'ingress', client.ports);
      times.compile.push(performance.now() - t);
      entries = egress.entries.size;
      t = performance.now();
      dp.setPeerTable('egress', 4000, at, egress);
      times.write.push(performance.now() - t);
      // New tables, so nothing is looked up: what the first connection of the pair costs.
      t = performance.now();
      checkEgress(tables, 'bench/client', server.podIP!, 9000);
      checkIngress(tables, 'bench/server', { ip: client.podIP! }, 9000);
      times.decide.push(performance.now() - t);
    }
  } finally {
    dp.close();
    rmdirSync(cg);
  }
  return {
    parse: stats(times.parse),
    compile: stats(times.compile),
    write: stats(times.write),
    decide: stats(times.decide),
    entries,
  };
}
