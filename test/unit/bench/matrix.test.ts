import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { needsHttp } from '../../../agent/src/proxy/authorize.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import {
  benchManifests,
  PORTS,
  ROWS,
  type SandboxKey,
  sandboxesFor,
  selectRows,
} from '../../../bench/matrix.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The sandbox's manifests as the agents would read them. */
function load(key: SandboxKey) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-test-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'bench.yaml'), benchManifests(key));
  return loadManifests([dir]);
}

describe('benchmark matrix', () => {
  it('has manifests the agents accept, with the direct pair opted out', () => {
    const { cluster, errors } = load('main');
    expect(errors).toEqual([]);
    expect([...cluster.pods.keys()].sort()).toEqual([
      'bench/client',
      'bench/dclient',
      'bench/dlocal',
      'bench/dremote',
      'bench/local',
      'bench/remote',
      'bench/remote7',
    ]);
    expect(cluster.pods.get('bench/dclient')!.labels['weft.dev/mesh']).toBe('disabled');
    expect(cluster.pods.get('bench/client')!.nodeName).toBe('node-1');
    expect(cluster.pods.get('bench/remote7')!.nodeName).toBe('node-2');
  });

  it('gives only the L7 row an HTTP path', () => {
    const { cluster } = load('main');
    const tables = compilePolicy({ version: 1, ...cluster }, 'cluster.local', 'weft-system');
    expect(needsHttp(tables, 'bench/remote7', PORTS.app)).toBe(true);
    expect(needsHttp(tables, 'bench/remote', PORTS.app)).toBe(false);
  });

  it('runs the L4 sandboxes without the direct pair or any policy', () => {
    const { cluster, errors } = load('plain');
    expect(errors).toEqual([]);
    expect([...cluster.pods.keys()].sort()).toEqual([
      'bench/client',
      'bench/local',
      'bench/remote',
    ]);
    expect(cluster.authorizationPolicies?.size ?? 0).toBe(0);
  });

  it('crosses nodes on every row against direct, stays on node-1 on the same-node rows', () => {
    for (const key of ['main', 'plain'] as const) {
      const { cluster } = load(key);
      for (const r of ROWS.filter((x) => x.sandbox === key)) {
        const sameNode = r.id.endsWith('-node');
        expect(r.baseline, r.id).toBe(
          r.id === 'direct' || r.id === 'direct-node' ? null : sameNode ? 'direct-node' : 'direct',
        );
        expect(cluster.pods.get(`bench/${r.client}`)!.nodeName).toBe('node-1');
        expect(cluster.pods.get(`bench/${r.server}`)!.nodeName).toBe(
          sameNode ? 'node-1' : 'node-2',
        );
      }
    }
  });

  it('brings up only the sandboxes the chosen rows need, with their baselines', () => {
    expect(sandboxesFor(ROWS)).toEqual(['main', 'plain', 'splice']);
    expect(sandboxesFor(selectRows(['direct', 'l7']))).toEqual(['main']);
    expect(selectRows(['direct', 'l7']).map((r) => r.id)).toEqual(['direct', 'l7']);
    expect(selectRows(['direct', 'l4-node']).map((r) => r.id)).toEqual([
      'direct',
      'direct-node',
      'l4-node',
    ]);
  });
});
