import { describe, expect, it } from 'vitest';
import { compileWorkloads } from '../../../agent/src/compile/enrollment.ts';
import { pod, snapshot } from './fixtures.ts';

const meshOn = { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } };
const meshOff = { name: 'other', labels: {} };

describe('enrollment', () => {
  it('enrolls pods of a labelled namespace, on this node only', () => {
    const w = compileWorkloads(
      snapshot({
        namespaces: [meshOn],
        pods: [pod('shop', 'a'), pod('shop', 'b', { nodeName: 'n2' })],
      }),
      'n1',
    );
    expect(w.map((x) => [x.key, x.enrolled])).toEqual([['shop/a', true]]);
    expect(w[0]).toMatchObject({
      netnsPath: '/var/run/netns/a',
      cgroupDir: '/cg/a',
      podIP: '10.0.0.1',
    });
  });

  it('leaves pods of other namespaces out, saying why', () => {
    const [w] = compileWorkloads(
      snapshot({ namespaces: [meshOff], pods: [pod('other', 'x')] }),
      'n1',
    );
    expect(w).toMatchObject({
      enrolled: false,
      reason: 'namespace other lacks weft.dev/mesh=enabled',
    });
  });

  it('lets a pod opt out of an enrolled namespace', () => {
    const [w] = compileWorkloads(
      snapshot({
        namespaces: [meshOn],
        pods: [pod('shop', 'a', { labels: { 'weft.dev/mesh': 'disabled' } })],
      }),
      'n1',
    );
    expect(w).toMatchObject({ enrolled: false, reason: 'pod label weft.dev/mesh=disabled' });
  });

  it('cannot enroll a pod without an IP or a known netns and cgroup', () => {
    const w = compileWorkloads(
      snapshot({
        namespaces: [meshOn],
        pods: [pod('shop', 'a', { podIP: undefined }), pod('shop', 'b', { annotations: {} })],
      }),
      'n1',
    );
    expect(w.map((x) => [x.enrolled, x.reason])).toEqual([
      [false, 'no pod IP yet'],
      [false, 'netns or cgroup of the pod unknown'],
    ]);
  });

  it('treats a namespace missing from the snapshot as not enrolled', () => {
    expect(compileWorkloads(snapshot({ pods: [pod('ghost', 'a')] }), 'n1')[0]?.enrolled).toBe(
      false,
    );
  });

  it('takes strict mTLS from the namespace label, else from the mesh-wide default', () => {
    const ns = (name: string, mtls?: string) => ({
      name,
      labels: { 'weft.dev/mesh': 'enabled', ...(mtls ? { 'weft.dev/mtls': mtls } : {}) },
    });
    const snap = snapshot({
      namespaces: [ns('plain'), ns('locked', 'strict'), ns('open', 'permissive')],
      pods: [pod('plain', 'a'), pod('locked', 'b'), pod('open', 'c')],
    });
    const strictness = (d?: 'strict' | 'permissive') =>
      compileWorkloads(snap, 'n1', d).map((w) => [w.key, w.strict]);
    expect(strictness()).toEqual([
      ['locked/b', true],
      ['open/c', false],
      ['plain/a', false],
    ]);
    expect(strictness('strict')).toEqual([
      ['locked/b', true],
      ['open/c', false],
      ['plain/a', true],
    ]);
  });
});
