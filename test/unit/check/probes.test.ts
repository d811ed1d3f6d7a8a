import { describe, expect, it } from 'vitest';
import { probeChecks, VERIFIER_TAIL } from '../../../agent/src/check/probes.ts';
import type { LoadProbe } from '../../../agent/src/check/types.ts';
import { fakeHost, judge, LOADED } from './fake-host.ts';

const DIR = '/opt/weft/build/bpf';
const OBJECTS = [`${DIR}/sk_lookup.bpf.o`, `${DIR}/sock_connect.bpf.o`];

describe('load probe checks', () => {
  it('has one line per object and one per map kind', () => {
    expect(probeChecks(DIR, OBJECTS).map((c) => c.id)).toEqual([
      'probe.object.sk_lookup',
      'probe.object.sock_connect',
      'probe.map.sockhash',
      'probe.map.sockmap',
      'probe.map.ringbuf',
      'probe.map.lpm_trie',
    ]);
  });

  it('fails with a build hint when there are no objects', async () => {
    const checks = probeChecks(DIR, []);
    expect(checks.map((c) => c.id)).toEqual(['probe.objects']);
    const r = await judge(checks, 'probe.objects', fakeHost());
    expect(r).toEqual({
      verdict: 'fail',
      detail: `no *.bpf.o in ${DIR}`,
      hint: 'build them: make build',
    });
  });

  it('passes a loaded object, naming its programs and the maps it created', async () => {
    const r = await judge(probeChecks(DIR, OBJECTS), 'probe.object.sock_connect', fakeHost());
    expect(r.verdict).toBe('ok');
    expect(r.detail).toBe('1 program: weft_connect4 (cgroup_sock_addr); 4 maps; nothing attached');
    expect(r.mapIds).toEqual([11, 12, 13, 14]);
  });

  it("shows the end of the verifier's log when a program is rejected", async () => {
    const log = Array.from({ length: 100 }, (_, i) => `${i}: insn ${i}`).join('\n');
    const rejected: LoadProbe = {
      ok: false,
      error: `load sk_lookup: Permission denied (EACCES)\nverifier log:\n${log}`,
      verifierLog: `${log}\ninvalid mem access 'map_value_or_null'\n`,
    };
    const host = fakeHost({ loadObject: (p) => (p.includes('sk_lookup') ? rejected : LOADED) });
    const checks = probeChecks(DIR, OBJECTS);
    const r = await judge(checks, 'probe.object.sk_lookup', host);
    expect(r.verdict).toBe('fail');
    const lines = r.detail.split('\n');
    expect(lines[0]).toBe('load sk_lookup: Permission denied (EACCES)');
    expect(lines[1]).toBe('verifier log:');
    expect(lines[2]).toBe(`... (${101 - VERIFIER_TAIL} earlier lines)`);
    expect(lines.at(-1)).toBe("invalid mem access 'map_value_or_null'");
    expect(lines).toHaveLength(3 + VERIFIER_TAIL);
    expect(r.hint).toMatch(/verifier rejected/);
    // The other object still loads, and the map kinds are found there.
    expect((await judge(checks, 'probe.object.sock_connect', host)).verdict).toBe('ok');
    expect(await judge(checks, 'probe.map.ringbuf', host)).toEqual({
      verdict: 'ok',
      detail: 'events in sock_connect.bpf.o',
      mapIds: [13],
    });
  });

  it('points an EPERM at the permissions', async () => {
    const host = fakeHost({
      loadObject: () => ({
        ok: false,
        error: 'load sock_connect: Operation not permitted (EPERM)',
      }),
    });
    const r = await judge(probeChecks(DIR, OBJECTS), 'probe.object.sock_connect', host);
    expect(r).toEqual({
      verdict: 'fail',
      detail: 'load sock_connect: Operation not permitted (EPERM)',
      hint: 'not allowed: see the permissions above',
    });
  });

  it('fails a map kind no loaded object created, naming the objects that did not load', async () => {
    const host = fakeHost({
      loadObject: (p) =>
        p.includes('sk_lookup')
          ? { ok: false, error: 'load sk_lookup: Invalid argument (EINVAL)' }
          : { ok: true, programs: [], maps: [{ name: 'events', type: 'ringbuf', id: 3 }] },
    });
    const r = await judge(probeChecks(DIR, OBJECTS), 'probe.map.sockhash', host);
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('not created: sk_lookup.bpf.o did not load');
    const none = fakeHost({ loadObject: () => ({ ok: true, programs: [], maps: [] }) });
    expect((await judge(probeChecks(DIR, OBJECTS), 'probe.map.lpm_trie', none)).detail).toBe(
      'no object in this build declares a lpm_trie map',
    );
  });
});
