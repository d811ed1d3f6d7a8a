// weft observe: exact pod and namespace filters, --since, --last, colour and
// YAML (pure parts); and --kubernetes end to end with the real CLI: every agent
// listed through a local list/watch server that speaks the Kubernetes API (not a
// real API server: no RBAC, no TLS) and read through its pod proxy from the
// agents' metrics ports (each a real HealthServer serving /flows), merged.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFlow, printFlow, useColour } from '../../../agent/src/cli/observe/format.ts';
import { byTime, matches, sinceMs } from '../../../agent/src/cli/observe/select.ts';
import { HealthServer } from '../../../agent/src/telemetry/health.ts';
import type { Flow } from '../../../agent/src/telemetry/index.ts';
import { FakeApiServer, writeKubeconfig } from '../../support/fake-apiserver.ts';

const flow = (seq: number, o: Partial<Flow>): Flow => ({
  seq,
  event: 'end',
  time: new Date(Date.parse('2026-12-07T08:00:00Z') + seq * 1000).toISOString(),
  node: 'node-1',
  source: 'shop/client',
  destination: 'shop/web',
  port: 8080,
  verdict: 'allow',
  where: 'outbound',
  identity: null,
  reason: 'closed',
  ...o,
});

describe('weft observe: which flows, and how they print', () => {
  const flows = [
    flow(1, {}),
    flow(2, { source: 'shop/client-2', destination: 'web/frontend', verdict: 'deny' }),
    flow(3, { source: '10.0.0.9', destination: 'shop/svc/web' }),
    flow(4, { source: 'plaintext peer', destination: 'shop/web' }),
  ];
  const seqs = (x: Parameters<typeof matches>[1]) =>
    flows.filter((f) => matches(f, x)).map((f) => f.seq);

  it('matches pods and namespaces exactly, substrings with --from/--to', () => {
    expect(seqs({ pod: 'shop/client' })).toEqual([1]);
    expect(seqs({ fromPod: 'shop/client-2' })).toEqual([2]);
    expect(seqs({ toPod: 'shop/web' })).toEqual([1, 4]);
    expect(seqs({ namespace: 'web' })).toEqual([2]);
    expect(seqs({ fromNamespace: 'shop' })).toEqual([1, 2]);
    // A Service VIP's namespace is its own; an address or a word has none.
    expect(seqs({ toNamespace: 'shop' })).toEqual([1, 3, 4]);
    expect(seqs({ from: 'client' })).toEqual([1, 2]);
    expect(seqs({ verdict: 'deny', fromNamespace: 'shop' })).toEqual([2]);
    expect(seqs({ sinceMs: Date.parse('2026-12-07T08:00:03Z') })).toEqual([3, 4]);
  });

  it('reads --since as a duration or an RFC 3339 time', () => {
    const now = Date.parse('2026-12-07T08:00:00Z');
    expect(now - sinceMs('90s', now)).toBe(90_000);
    expect(now - sinceMs('1h30m', now)).toBe(5_400_000);
    expect(now - sinceMs('250ms', now)).toBe(250);
    expect(sinceMs('2026-12-07T07:00:00Z', now)).toBe(now - 3_600_000);
    for (const bad of ['', '5', 'ten minutes', '5m ago', '2026-13-45T99:00:00Z'])
      expect(() => sinceMs(bad, now)).toThrow(/--since/);
  });

  it('merges nodes in time order, keeping each node’s own order on a tie', () => {
    const a = flow(1, { node: 'a' });
    const b = flow(1, { node: 'b' });
    expect(byTime([flows[2]!, b, a]).map((f) => f.node)).toEqual(['b', 'a', 'node-1']);
  });

  it('colours verdicts on a terminal unless NO_COLOR, and prints YAML documents', () => {
    expect(useColour('auto', true, {})).toBe(true);
    expect(useColour('auto', true, { NO_COLOR: '1' })).toBe(false);
    expect(useColour('auto', false, {})).toBe(false);
    expect(useColour('always', false, { NO_COLOR: '1' })).toBe(true);
    expect(formatFlow(flows[1]!, true)).toContain('\x1b[31mDENIED \x1b[0m');
    expect(formatFlow(flows[0]!, true)).toContain('\x1b[32mALLOWED\x1b[0m');
    expect(formatFlow(flows[0]!)).not.toContain('\x1b');
    expect(printFlow(flows[1]!, 'yaml', false)).toBe(
      `---\nseq: 2\nevent: end\ntime: ${flows[1]!.time}\nnode: node-1\nsource: shop/client-2\ndestination: web/frontend\nport: 8080\nverdict: deny\nwhere: outbound\nidentity: null\nreason: closed\n`,
    );
  });
});

describe('weft observe --kubernetes', { timeout: 30_000 }, () => {
  let api: FakeApiServer;
  const agents: HealthServer[] = [];
  let dir: string;
  const base = `127.77.${(process.pid % 250) + 1}`;
  // Node 1's flows at seconds 1, 3, 5; node 2's at 2, 4.
  const logs = [
    [1, 3, 5].map((s, i) => flow(i + 1, { node: 'node-1', time: flow(s, {}).time })),
    [2, 4].map((s, i) =>
      flow(i + 1, { node: 'node-2', time: flow(s, {}).time, source: 'other/app', verdict: 'deny' }),
    ),
  ];

  beforeAll(async () => {
    api = await new FakeApiServer().start();
    dir = mkdtempSync(join(tmpdir(), 'weft-observe-'));
    for (const [i, log] of logs.entries()) {
      agents.push(
        await HealthServer.start(
          { ready: () => true, flows: (since) => log.filter((f) => f.seq > since) },
          { host: `${base}.${i + 1}`, metricsPort: 15020 },
        ),
      );
      api.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `weft-agent-${i + 1}`,
          namespace: 'weft-system',
          labels: { 'app.kubernetes.io/name': 'weft', 'app.kubernetes.io/component': 'agent' },
        },
        spec: { nodeName: `node-${i + 1}` },
        status: { phase: 'Running', podIP: `${base}.${i + 1}` },
      });
    }
    // Not an agent (the issuer): not asked.
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'weft-issuer',
        namespace: 'weft-system',
        labels: { 'app.kubernetes.io/name': 'weft', 'app.kubernetes.io/component': 'issuer' },
      },
      status: { phase: 'Running', podIP: `${base}.9` },
    });
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronously: the API server answers from this process.
  const weft = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        new URL('../../../bin/weft', import.meta.url).pathname,
        args,
        { encoding: 'utf8' },
        (e, stdout, stderr) => resolve({ status: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const observe = (...args: string[]) =>
    weft(['observe', '--kubernetes', '--kubeconfig', writeKubeconfig(dir, api.url), ...args]);

  it('reads every agent through the pod proxy and merges their flows in time order', async () => {
    const r = await observe('-o', 'json');
    expect(r.stderr).toBe('');
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Flow);
    expect(got.map((f) => `${f.node}:${f.seq}`)).toEqual([
      'node-1:1',
      'node-2:1',
      'node-1:2',
      'node-2:2',
      'node-1:3',
    ]);
    expect(api.requests).toContainEqual(
      expect.stringMatching(
        /^GET \/api\/v1\/namespaces\/weft-system\/pods\/weft-agent-2:15020\/proxy\/flows\?since=0$/,
      ),
    );
    expect(api.requests.some((q) => q.includes('weft-issuer'))).toBe(false);
  });

  it("serves /flows beside the agent's metrics, after a sequence number", async () => {
    const url = `http://${base}.1:15020/flows`;
    expect(((await (await fetch(`${url}?since=2`)).json()) as Flow[]).map((f) => f.seq)).toEqual([
      3,
    ]);
    const bad = await fetch(`${url}?since=-1`);
    expect(bad.status).toBe(400);
  });

  it('colours verdicts when asked, and looks for agents where it is told', async () => {
    const text = (await observe('--color', 'always')).stdout.split('\n');
    expect(text[0]).toContain('\x1b[32mALLOWED\x1b[0m');
    expect(text[1]).toContain('\x1b[31mDENIED \x1b[0m');
    expect((await observe('--color', 'never')).stdout).not.toContain('\x1b');
    const elsewhere = await observe('--agent-namespace', 'mesh');
    expect(elsewhere.stderr).toContain(
      'no running weft agent in namespace mesh (pods labelled app.kubernetes.io/name=weft,app.kubernetes.io/component=agent)',
    );
  });

  it('filters exactly and keeps the last N', async () => {
    const r = await observe('--from-namespace', 'other', '--last', '1', '-o', 'json');
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Flow).time),
    ).toEqual([flow(4, {}).time]);
    const y = await observe('--pod', 'shop/client', '--last', '1', '-o', 'yaml');
    expect(y.stdout).toMatch(/^---\nseq: 3\n/);
  });

  it('names what it could not reach, and refuses options that do not go together', async () => {
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'weft-agent-3',
        namespace: 'weft-system',
        labels: { 'app.kubernetes.io/name': 'weft', 'app.kubernetes.io/component': 'agent' },
      },
      status: { phase: 'Running', podIP: `${base}.3` },
    });
    const r = await observe();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /pods\/weft-agent-3:15020\/proxy\/flows: 503 error trying to reach weft-agent-3/,
    );
    api.remove('Pod', 'v1', 'weft-system', 'weft-agent-3');
    const both = await weft(['observe', '--kubernetes', '--sandbox', 'x']);
    expect(both.stderr).toContain('give one of --sandbox, --admin-socket and --kubernetes');
    expect((await observe('--last', '0')).stderr).toContain(
      '--last takes a whole number from 1 to 100000',
    );
    expect((await observe('--since', 'yesterday')).stderr).toContain('--since: a duration');
    expect((await observe('--pod', 'web')).stderr).toContain('--pod takes namespace/name, not web');
  });
});
