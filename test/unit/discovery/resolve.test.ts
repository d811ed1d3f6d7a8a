import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_KUBEPODS_DIRS,
  defaultLayouts,
  PodDiscovery,
  pinNetns,
} from '../../../agent/src/discovery/index.ts';
import {
  addPod,
  type Driver,
  FakeNode,
  HOST_NETNS,
  podCgroupPath,
  type Qos,
  type Runtime,
} from '../../fixtures/discovery/node.ts';

const UID = '5b0e7a61-3c2d-4e8f-9a1b-7c6d5e4f3a2b';
const POD_NS = 4026532301;

let node: FakeNode;
beforeEach(() => {
  node = new FakeNode();
});
afterEach(() => node.remove());

const discovery = (extra: Partial<ConstructorParameters<typeof PodDiscovery>[0]> = {}) =>
  new PodDiscovery({ cgroupRoot: node.cgroupRoot, procRoot: node.procRoot, ...extra });

describe('each runtime, driver and QoS class', () => {
  const runtimes: Runtime[] = ['containerd', 'crio'];
  const drivers: Driver[] = ['systemd', 'cgroupfs'];
  const classes: Qos[] = ['Guaranteed', 'Burstable', 'BestEffort'];
  for (const runtime of runtimes)
    for (const driver of drivers)
      for (const qos of classes) {
        it(`${runtime} × ${driver} × ${qos}`, () => {
          // A neighbour in the other QoS classes must not be taken for this pod.
          const other = '11111111-2222-4333-8444-555555555555';
          classes.forEach((q, i) => {
            addPod(node, {
              runtime,
              driver,
              uid: other,
              qos: q,
              netns: POD_NS + 50,
              pid: 900 + 10 * i,
            });
          });
          const pod = addPod(node, {
            runtime,
            driver,
            uid: UID,
            qos,
            netns: POD_NS,
            pid: 300,
            containers: 2,
          });
          const r = discovery().resolve(UID, qos);
          expect(r).toEqual({
            status: 'ready',
            uid: UID,
            cgroupDir: join(node.cgroupRoot, pod.path),
            layout: driver === 'systemd' ? 'systemd kubepods.slice' : 'cgroupfs kubepods',
            netnsPath: join(node.procRoot, '300', 'ns', 'net'),
            netnsIno: POD_NS,
            pid: 300,
            // conmon (CRI-O) runs in the host netns and is not a pod process.
            pids: [300, 301, 302],
          });
        });
      }
});

describe('picking the netns', () => {
  it('prefers the pause process over a lower pid', () => {
    const pod = addPod(node, {
      runtime: 'containerd',
      driver: 'systemd',
      uid: UID,
      qos: 'Burstable',
      netns: POD_NS,
      pid: 500,
    });
    node.process(42, POD_NS, '/bin/sh');
    node.join(`${pod.path}/cri-containerd-late.scope`, 42);
    const r = discovery().resolve(UID, 'Burstable');
    expect(r).toMatchObject({ status: 'ready', pid: 500, pids: [42, 500, 501] });
  });

  it('without an infra container (CRI-O drop_infra_ctr) takes the lowest pid', () => {
    const path = podCgroupPath('systemd', UID, 'BestEffort');
    node.process(77, POD_NS, '/usr/bin/app');
    node.process(76, HOST_NETNS, '/usr/bin/conmon');
    node.process(78, POD_NS, '/usr/bin/app');
    node.join(`${path}/crio-conmon-c1.scope`, 76);
    node.join(`${path}/crio-c1.scope`, 78);
    node.join(`${path}/crio-c1.scope`, 77);
    expect(discovery().resolve(UID, 'BestEffort')).toMatchObject({
      status: 'ready',
      pid: 77,
      netnsIno: POD_NS,
      pids: [77, 78],
    });
  });

  it('when processes disagree, the netns of the pause process wins over the majority', () => {
    const pod = addPod(node, {
      runtime: 'containerd',
      driver: 'cgroupfs',
      uid: UID,
      qos: 'Guaranteed',
      netns: POD_NS,
      pid: 600,
    });
    for (const p of [610, 611, 612]) {
      node.process(p, POD_NS + 9, '/bin/other');
      node.join(`${pod.path}/strays`, p);
    }
    expect(discovery().resolve(UID, 'Guaranteed')).toMatchObject({
      netnsIno: POD_NS,
      pid: 600,
    });
  });

  it('skips a process that exits while it is read', () => {
    const pod = addPod(node, {
      runtime: 'containerd',
      driver: 'systemd',
      uid: UID,
      qos: 'Burstable',
      netns: POD_NS,
      pid: 300,
    });
    // Listed in cgroup.procs, gone from /proc.
    rmSync(join(node.procRoot, '300'), { recursive: true });
    expect(discovery().resolve(UID, 'Burstable')).toMatchObject({
      status: 'ready',
      cgroupDir: join(node.cgroupRoot, pod.path),
      pid: 301,
      pids: [301],
    });
  });

  it('reads the inode of a namespace file that is not a link (a bind mount)', () => {
    const path = podCgroupPath('cgroupfs', UID, 'Burstable');
    node.process(300, 0, '/pause', { plainNsFile: true });
    node.join(`${path}/infra`, 300);
    const nsFile = join(node.procRoot, '300', 'ns', 'net');
    const r = discovery().resolve(UID, 'Burstable');
    expect(r).toMatchObject({ status: 'ready', netnsIno: Number(statSync(nsFile).ino) });
    if (r.status !== 'ready') return;
    const pin = pinNetns(r);
    try {
      expect(Number(statSync(pin.path).ino)).toBe(r.netnsIno);
    } finally {
      pin.close();
    }
    expect(() => pinNetns({ netnsPath: nsFile, netnsIno: r.netnsIno + 1 })).toThrow(
      /pid was reused/,
    );
  });
});

describe('pods that are not (yet) enrolable', () => {
  it('reports a hostNetwork pod, for both runtimes', () => {
    for (const runtime of ['containerd', 'crio'] as const) {
      const uid = runtime === 'crio' ? UID : UID.replace('5b', '6c');
      addPod(node, {
        runtime,
        driver: 'systemd',
        uid,
        qos: 'Burstable',
        netns: HOST_NETNS,
        pid: 700 + (runtime === 'crio' ? 10 : 0),
      });
      const r = discovery().resolve(uid, 'Burstable');
      expect(r.status).toBe('hostNetwork');
      expect(r).not.toHaveProperty('netnsPath');
    }
  });

  it('a CRI-O pod with only conmon running is pending, not hostNetwork', () => {
    const path = podCgroupPath('systemd', UID, 'Burstable');
    node.process(80, HOST_NETNS, '/usr/bin/conmon');
    node.join(`${path}/crio-conmon-x.scope`, 80);
    node.cgroup(`${path}/crio-x.scope`);
    const r = discovery().resolve(UID, 'Burstable');
    expect(r).toEqual({
      status: 'pending',
      uid: UID,
      cgroupDir: join(node.cgroupRoot, path),
      layout: 'systemd kubepods.slice',
      error: `pod ${UID}: no live process in ${join(node.cgroupRoot, path)} or its container cgroups yet`,
    });
  });

  it('a missing pod names every path tried and the scan', () => {
    node.cgroup('kubepods.slice/kubepods-burstable.slice');
    const r = discovery().resolve(UID, 'Burstable');
    const u = UID.replaceAll('-', '_');
    const tried = [
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u}.slice`,
      `kubepods/burstable/pod${UID}`,
      `kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${u}.slice`,
      `kubelet/kubepods/burstable/pod${UID}`,
    ].map((p) => join(node.cgroupRoot, p));
    expect(r).toEqual({
      status: 'missing',
      uid: UID,
      tried,
      error: `pod ${UID} (Burstable): no cgroup under ${node.cgroupRoot}; tried ${tried.join(', ')}; scanned 3 directories to depth 6 for its name`,
    });
  });

  it('refuses roots that are not a cgroup tree or a procfs', () => {
    expect(() => new PodDiscovery({ cgroupRoot: node.root, procRoot: node.procRoot })).toThrow(
      `cgroupRoot ${node.root}: no cgroup.procs there, not a cgroup2 mount`,
    );
    const d = new PodDiscovery({ cgroupRoot: node.cgroupRoot, procRoot: node.procRoot });
    // By default the host's init and the agent's own netns both count as the host's.
    expect(d.hostNetnsInos).toEqual(
      new Set([HOST_NETNS, Number(statSync('/proc/self/ns/net').ino)]),
    );
    const none = [join(node.root, '1', 'ns', 'net'), join(node.root, 'nothing')];
    expect(
      () => new PodDiscovery({ cgroupRoot: node.cgroupRoot, procRoot: node.root, hostNetns: none }),
    ).toThrow(`cannot tell the host's netns: none of ${none.join(', ')} is readable (`);
  });
});

describe('prefixes (k3s, kind)', () => {
  const k3sUnder = 'system.slice/k3s-agent.service';

  it('finds a pod under a configured kubepods directory', () => {
    const pod = addPod(node, {
      runtime: 'containerd',
      driver: 'cgroupfs',
      uid: UID,
      qos: 'BestEffort',
      netns: POD_NS,
      pid: 300,
      under: k3sUnder,
    });
    const d = discovery({
      layouts: defaultLayouts([...DEFAULT_KUBEPODS_DIRS, `${k3sUnder}/kubepods`]),
      scan: false,
    });
    expect(d.resolve(UID, 'BestEffort')).toMatchObject({
      status: 'ready',
      cgroupDir: join(node.cgroupRoot, pod.path),
      layout: `cgroupfs ${k3sUnder}/kubepods`,
    });
  });

  it("finds kind's node seen from the host by scanning, within the depth bound", () => {
    const under = 'system.slice/docker-4f3e.scope/kubelet.slice';
    const pod = addPod(node, {
      runtime: 'containerd',
      driver: 'systemd',
      uid: UID,
      qos: 'BestEffort',
      netns: POD_NS,
      pid: 300,
      under,
      slice: 'kubelet-kubepods',
    });
    // Pod cgroup at depth 6: system.slice/docker/kubelet.slice/kubelet-kubepods.slice/qos/pod.
    expect(discovery().resolve(UID, 'BestEffort')).toMatchObject({
      status: 'ready',
      cgroupDir: join(node.cgroupRoot, pod.path),
      layout: 'systemd kubepods.slice (found by scan)',
      netnsIno: POD_NS,
    });
    const shallow = discovery({ scan: { maxDepth: 5, maxDirs: 100, ttlMs: 0 } });
    expect(shallow.resolve(UID, 'BestEffort')).toMatchObject({ status: 'missing' });
    const few = discovery({ scan: { maxDepth: 6, maxDirs: 3, ttlMs: 0 } });
    expect(few.resolve(UID, 'BestEffort')).toMatchObject({
      status: 'missing',
      error: expect.stringMatching(/scanned 3 directories to depth 6/),
    });
    expect(discovery({ scan: false }).resolve(UID, 'BestEffort').status).toBe('missing');
  });

  it('one scan serves many pods within its ttl, and a removed find is not trusted', () => {
    const under = 'machine.slice/node-x';
    const uids = ['a', 'b', 'c'].map((x) => `${x.repeat(8)}-0000-4000-8000-000000000000`);
    uids.forEach((uid, i) => {
      addPod(node, {
        runtime: 'crio',
        driver: 'cgroupfs',
        uid,
        qos: 'Burstable',
        netns: POD_NS + i,
        pid: 100 + 10 * i,
        under,
      });
    });
    const d = discovery({ scan: { maxDepth: 6, maxDirs: 100, ttlMs: 60_000 } });
    expect(uids.map((u) => d.resolve(u, 'Burstable'))).toMatchObject(
      uids.map((_, i) => ({ status: 'ready', netnsIno: POD_NS + i })),
    );
    node.removeCgroup(podCgroupPath('cgroupfs', uids[0]!, 'Burstable', { under }));
    expect(d.resolve(uids[0]!, 'Burstable').status).toBe('missing');
  });
});
