// The import-direction check of `make check` (.dependency-cruiser.cjs): it passes on
// agent/src and fails, naming the rule, on a tree with an import against the layer list
// or past a room's public face.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const depcruise = join(repo, 'node_modules/.bin/depcruise');
const config = join(repo, '.dependency-cruiser.cjs');

function cruise(cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      depcruise,
      ['--config', config, '--output-type', 'err', 'agent/src'],
      { cwd },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: stdout + stderr });
      },
    );
  });
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A throwaway tree shaped like the repo: files under agent/src/ and a tsconfig. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'weft-layers-'));
  dirs.push(root);
  writeFileSync(
    join(root, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        allowImportingTsExtensions: true,
        noEmit: true,
      },
    }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import direction (.dependency-cruiser.cjs)', () => {
  it('passes on agent/src', async () => {
    const r = await cruise(repo);
    expect(r.out).toContain('no dependency violations');
    expect(r.code).toBe(0);
  });

  it('fails on a room importing one above it, naming the rule', async () => {
    const root = tree({
      'agent/src/proxy/tables.ts': 'export const x = 1;\n',
      'agent/src/state/types.ts':
        "import type { x } from '../proxy/tables.ts';\nexport type y = typeof x;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('layer-state');
    expect(r.out).toContain('agent/src/state/types.ts');
  });

  it('fails on the datapath importing a compiler', async () => {
    const root = tree({
      'agent/src/compile/netpol.ts': 'export interface PeerTable {}\n',
      'agent/src/datapath/node.ts':
        "import type { PeerTable } from '../compile/netpol.ts';\nexport type T = PeerTable;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('apply-imports-no-compiler');
  });

  it('fails on an evaluator importing a parser', async () => {
    const root = tree({
      'agent/src/sources/policy/netpol-parse.ts': 'export const parse = 1;\n',
      'agent/src/policy/netpol-eval.ts':
        "import { parse } from '../sources/policy/netpol-parse.ts';\nexport const e = parse;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('policy-evaluates-only');
  });

  it('fails on a folder that is not in the layer list', async () => {
    const root = tree({
      'agent/src/state/types.ts': 'export const x = 1;\n',
      'agent/src/misc/util.ts': "import { x } from '../state/types.ts';\nexport const y = x;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('unlisted-room');
  });

  it('fails on an import cycle inside a room', async () => {
    const root = tree({
      'agent/src/state/a.ts': "import type { B } from './b.ts';\nexport type A = B[];\n",
      'agent/src/state/b.ts': "import type { A } from './a.ts';\nexport type B = { a?: A };\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('no-circular');
  });

  it("passes imports through a room's face or a sub-folder's, and deep ones inside a room", async () => {
    const root = tree({
      'agent/src/state/types.ts': 'export type Labels = Record<string, string>;\n',
      'agent/src/state/labels.ts':
        "import type { Labels } from './types.ts';\nexport const none: Labels = {};\n",
      'agent/src/state/index.ts':
        "export { none } from './labels.ts';\nexport type { Labels } from './types.ts';\n",
      'agent/src/sources/kubernetes/convert.ts':
        "import { none } from '../../state/index.ts';\nexport const c = none;\n",
      'agent/src/sources/kubernetes/index.ts': "export { c } from './convert.ts';\n",
      'agent/src/agent/agent.ts':
        "import { c } from '../sources/kubernetes/index.ts';\nimport type { Labels } from '../state/index.ts';\nexport const a: Labels = c;\n",
    });
    const r = await cruise(root);
    expect(r.out).toContain('no dependency violations');
    expect(r.code).toBe(0);
  });

  it('fails on a deep import into another room, past its index.ts, naming the rule', async () => {
    const root = tree({
      'agent/src/state/types.ts': 'export type Labels = Record<string, string>;\n',
      'agent/src/state/index.ts': "export type { Labels } from './types.ts';\n",
      'agent/src/compile/node.ts':
        "import type { Labels } from '../state/types.ts';\nexport type T = Labels;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('public-face');
    expect(r.out).toContain('agent/src/compile/node.ts');
  });

  it('fails on a deep import into a room that has no index.ts yet', async () => {
    const root = tree({
      'agent/src/l7/route-match.ts': 'export const match = 1;\n',
      'agent/src/proxy/http.ts':
        "import { match } from '../l7/route-match.ts';\nexport const m = match;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('public-face');
  });

  it("fails on a room's file importing its own room's index.ts", async () => {
    const root = tree({
      'agent/src/state/types.ts': 'export type Labels = Record<string, string>;\n',
      'agent/src/state/index.ts': "export type { Labels } from './types.ts';\n",
      'agent/src/state/labels.ts':
        "import type { Labels } from './index.ts';\nexport type L = Labels;\n",
    });
    const r = await cruise(root);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('own-room-direct');
  });
});
