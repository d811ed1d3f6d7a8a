import { describe, expect, it } from 'vitest';
import { agentChecks } from '../../../agent/src/check/agent.ts';
import type { PinnedMaps } from '../../../agent/src/check/types.ts';
import { LAYOUT_VERSION, maps } from '../../../agent/src/tables/layout.ts';
import { fakeHost, judge, status } from './fake-host.ts';

const pinned = (over: Partial<PinnedMaps> = {}, absent: string[] = []): PinnedMaps => ({
  maps: maps.map((m) => ({ name: m.name, present: !absent.includes(m.name) })),
  layoutVersion: LAYOUT_VERSION,
  ...over,
});

describe('running agent checks', () => {
  it('passes when the admin socket answers, naming the node and its enrollment', async () => {
    const host = fakeHost({ agentStatus: async () => status() });
    expect(await judge(agentChecks, 'agent.admin', host, { adminSocket: '/run/x.sock' })).toEqual({
      verdict: 'ok',
      detail: 'node node-a on /run/x.sock: 1 of 2 workloads enrolled',
    });
  });

  it('fails when no agent answers, asking whether it runs', async () => {
    const r = await judge(agentChecks, 'agent.admin', fakeHost(), { adminSocket: '/run/w.sock' });
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('no agent answers on /run/weft/agent.sock');
    expect(r.hint).toBe(
      'is the agent running? weft agent --node NAME --manifests DIR --cgroup-root DIR --admin-socket /run/w.sock',
    );
  });

  it('passes pins that match the layout', async () => {
    const r = await judge(agentChecks, 'agent.layout', fakeHost({ pinnedMaps: () => pinned() }));
    expect(r).toEqual({
      verdict: 'ok',
      detail: `${maps.length} maps under /sys/fs/bpf/weft, layout ${LAYOUT_VERSION}`,
    });
  });

  it('fails when nothing is pinned, asking whether the agent runs', async () => {
    const none = pinned(
      { layoutVersion: null },
      maps.map((m) => m.name),
    );
    const r = await judge(agentChecks, 'agent.layout', fakeHost({ pinnedMaps: () => none }), {
      bpffs: '/sys/fs/bpf/weft/n1',
    });
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('no weft maps pinned under /sys/fs/bpf/weft/n1');
    expect(r.hint).toMatch(
      /^is the agent running\? weft agent .* --bpffs \/sys\/fs\/bpf\/weft\/n1$/,
    );
  });

  it('fails pins of another layout version', async () => {
    const old = pinned({ layoutVersion: LAYOUT_VERSION - 1 });
    const r = await judge(agentChecks, 'agent.layout', fakeHost({ pinnedMaps: () => old }));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe(
      `meta under /sys/fs/bpf/weft holds layout ${LAYOUT_VERSION - 1}; this weft has ${LAYOUT_VERSION}`,
    );
    expect(r.hint).toMatch(/remove \/sys\/fs\/bpf\/weft/);
  });

  it('fails a pin whose shape differs, and names missing pins', async () => {
    const bad = pinned();
    bad.maps[1] = { name: 'enrolled', present: true, problem: "map 'enrolled': keySize is 4" };
    const r1 = await judge(agentChecks, 'agent.layout', fakeHost({ pinnedMaps: () => bad }));
    expect(r1.verdict).toBe('fail');
    expect(r1.detail).toBe("map 'enrolled': keySize is 4");
    const some = pinned({}, ['events', 'mesh_peers']);
    const r2 = await judge(agentChecks, 'agent.layout', fakeHost({ pinnedMaps: () => some }));
    expect(r2.detail).toBe('not pinned under /sys/fs/bpf/weft: mesh_peers, events');
  });
});
