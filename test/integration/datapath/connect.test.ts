// cgroup/connect4|6 and getpeername4|6 on a real cgroup and netns: a real
// process's connect() is left alone, redirected to the proxy port, or denied
// with EPERM and a ring buffer event, as the maps say.
import type { Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachCgroup,
  attachedPrograms,
  type BpfMap,
  cgroupId,
  type DatapathEvent,
  type Decoded,
  EventStream,
  encodeAddr,
  type Link,
  type LoadedObject,
  layout,
  listenInNetns,
  loadObject,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import {
  type ConnectResult,
  connectScript,
  lastJson,
  runInPod,
} from '../../../agent/src/sandbox/exec.ts';
import { ipIn } from '../../../agent/src/sandbox/host.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';
import { type UdpResult, udpClient } from '../../support/udp.ts';

const APP4 = '10.199.0.1';
const APP6 = 'fd00:199::1';
const { constants: C } = layout;

/** An IPv4 address as the policy maps key it (::ffff:a.b.c.d). */
const mapped = (ip: string) =>
  Buffer.from(
    `00000000000000000000ffff${ip
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('')}`,
    'hex',
  );
const ports = (ranges: [number, number][]) => {
  const b = Buffer.alloc(32);
  ranges.forEach(([lo, hi], i) => {
    b.writeUInt16LE(lo, i * 4);
    b.writeUInt16LE(hi, i * 4 + 2);
  });
  return { policy_id: 0, flags: 0, count: ranges.length, ranges: b };
};

describePrivileged('connect hooks', () => {
  let rig: Rig;
  let ns: { name: string; path: string };
  let cg: string;
  let obj: LoadedObject;
  let links: Link[] = [];
  let enrolled: BpfMap<bigint, Decoded>;
  let origDst: BpfMap<bigint, Decoded>;
  let events: EventStream;
  const seen: DatapathEvent[] = [];
  const servers: Server[] = [];
  const proxied: string[] = [];

  const serve = async (address: string, port: number, reply: string, family: 4 | 6 = 4) => {
    servers.push(
      await listenInNetns(ns.path, { address, port, family }, (s) => {
        if (reply === 'proxy') proxied.push(`${s.remoteAddress}`);
        s.end(reply);
      }),
    );
  };
  const pod = (host: string, port: number) =>
    runInPod({ cgroupDir: cg, netnsPath: ns.path }, connectScript(host, port)).then((r) =>
      lastJson<ConnectResult>(r),
    );
  const udp = (host: string, port: number, connect = false) =>
    runInPod(
      { cgroupDir: cg, netnsPath: ns.path },
      udpClient(host, port, { connect, count: 1 }),
    ).then((r) => lastJson<UdpResult>(r));

  beforeAll(async () => {
    rig = makeRig('connect');
    ns = rig.netns('pod');
    // The "remote" app lives at addresses of the pod's own loopback device.
    ipIn(ns.name, 'addr', 'add', `${APP4}/32`, 'dev', 'lo');
    ipIn(ns.name, 'addr', 'add', `${APP6}/128`, 'dev', 'lo');
    cg = rig.cgroup('pod');

    obj = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`);
    rig.cleanup.add('object', () => obj.close());
    for (const name of obj.programNames()) {
      const prog = obj.program(name);
      const link = attachCgroup(prog, cg);
      prog.close();
      links.push(link);
      rig.cleanup.add(`link ${name}`, () => link.close());
    }
    enrolled = obj.map('enrolled');
    origDst = obj.map('orig_dst');
    events = new EventStream(obj.mapFd('events'));
    events.on('event', (e) => seen.push(e));
    rig.cleanup.add('maps', () => {
      for (const m of [enrolled, origDst]) m.close();
      events.close();
    });

    await serve(APP4, 8080, 'app');
    await serve(APP6, 8080, 'app6', 6);
    await serve('127.0.0.1', 8081, 'loopback');
    await serve('127.0.0.1', C.PORT_OUTBOUND, 'proxy');
    await serve('::1', C.PORT_OUTBOUND, 'proxy', 6);
    rig.cleanup.add('servers', () => {
      for (const s of servers) s.close();
    });
  });

  afterAll(() => rig.teardown());

  describe('not enrolled', () => {
    it('leaves connect() alone', async () => {
      expect(await pod(APP4, 8080)).toMatchObject({ data: 'app', remote: APP4, remotePort: 8080 });
    });
  });

  describe('enrolled', () => {
    beforeAll(() => {
      enrolled.set(cgroupId(cg), { id: 7, flags: 0 });
    });

    it('redirects to the proxy port and getpeername shows the original peer', async () => {
      const before = proxied.length;
      const r = await pod(APP4, 8080);
      expect(r).toMatchObject({ data: 'proxy', remote: APP4, remotePort: 8080 });
      expect(proxied.length).toBe(before + 1);
      // The proxy's side of the map: the original destination and who asked.
      const entries = origDst.entries().map(([, v]) => v);
      const a = encodeAddr(APP4);
      expect(entries).toContainEqual({
        addr: a.bytes,
        port: 8080,
        family: C.AF_INET,
        workload_id: 7,
      });
    });

    it('redirects IPv6 to the proxy on ::1 and restores the IPv6 peer', async () => {
      expect(await pod(APP6, 8080)).toMatchObject({
        data: 'proxy',
        remote: APP6,
        remotePort: 8080,
      });
    });

    it('does not redirect loopback inside the pod', async () => {
      expect(await pod('127.0.0.1', 8081)).toMatchObject({ data: 'loopback', remotePort: 8081 });
    });

    it('denies at connect() with EPERM and reports the verdict on the ring buffer', async () => {
      // Isolated for egress with no egress_allow entry: every destination is refused.
      enrolled.set(cgroupId(cg), { id: 7, flags: C.WL_F_EGRESS_ISOLATED });
      try {
        const before = proxied.length;
        const r = await pod(APP4, 8080);
        expect(r).toEqual({ error: 'EPERM' });
        expect(proxied.length).toBe(before);
        await expect.poll(() => seen.length, { timeout: 3000 }).toBeGreaterThan(0);
        expect(seen.at(-1)).toMatchObject({
          kind: 'connect',
          verdict: 'deny',
          workloadId: 7,
          policyId: 0,
          rule: 0,
          addr: APP4,
          port: 8080,
          cgroupId: cgroupId(cg),
        });
        expect(await pod(APP4, 9999)).toEqual({ error: 'EPERM' });
      } finally {
        enrolled.set(cgroupId(cg), { id: 7, flags: 0 });
      }
      expect(await pod(APP4, 8080)).toMatchObject({ data: 'proxy' });
    });

    it('allows an egress-isolated workload only what egress_allow lists (longest prefix wins)', async () => {
      const allow = obj.map<Decoded, Decoded>('egress_allow');
      const tcp = C.PROTO_TCP;
      try {
        // 10.199.0.0/16 on 8080-8081, with a hole at the app's own /32.
        allow.set(
          { prefixlen: 64 + 96 + 16, workload_id: 7, protocol: tcp, addr: mapped('10.199.0.0') },
          ports([[8080, 8081]]),
        );
        enrolled.set(cgroupId(cg), { id: 7, flags: C.WL_F_EGRESS_ISOLATED });
        expect(await pod(APP4, 8080)).toMatchObject({ data: 'proxy' });
        expect(await pod(APP4, 9999)).toEqual({ error: 'EPERM' });
        allow.set(
          { prefixlen: 64 + 128, workload_id: 7, protocol: tcp, addr: mapped(APP4) },
          ports([]),
        );
        expect(await pod(APP4, 8080)).toEqual({ error: 'EPERM' });
        // A second generation written beside the live one changes nothing until one
        // update of the workload's flags makes it live.
        allow.set(
          {
            prefixlen: 64 + 96 + 16,
            workload_id: (7 | C.POLICY_GEN_BIT) >>> 0,
            protocol: tcp,
            addr: mapped('10.199.0.0'),
          },
          ports([[9999, 9999]]),
        );
        expect(await pod(APP4, 9999)).toEqual({ error: 'EPERM' });
        enrolled.set(cgroupId(cg), { id: 7, flags: C.WL_F_EGRESS_ISOLATED | C.WL_F_EGRESS_GEN });
        expect(await pod(APP4, 9999)).toMatchObject({ data: 'proxy' });
        expect(await pod(APP4, 8080)).toEqual({ error: 'EPERM' });
        // Not isolated: the table is not consulted.
        enrolled.set(cgroupId(cg), { id: 7, flags: 0 });
        expect(await pod(APP4, 9999)).toMatchObject({ data: 'proxy' });
      } finally {
        for (const k of [...allow.keys()]) allow.delete(k);
        allow.close();
      }
    });

    it('polices UDP under its own entries: sendto() and connect() get EPERM with an event', async () => {
      const allow = obj.map<Decoded, Decoded>('egress_allow');
      const key = (protocol: number) => ({
        prefixlen: 64 + 128,
        workload_id: 7,
        protocol,
        addr: mapped(APP4),
      });
      try {
        allow.set(key(C.PROTO_UDP), ports([[5353, 5353]]));
        allow.set(key(C.PROTO_TCP), ports([[8080, 8080]]));
        enrolled.set(cgroupId(cg), { id: 7, flags: C.WL_F_EGRESS_ISOLATED });
        expect(await udp(APP4, 5353)).toEqual({ sent: 1 });
        expect(await udp(APP4, 5353, true)).toEqual({ sent: 1 });
        // TCP's port does not open UDP, nor UDP's TCP.
        expect(await udp(APP4, 8080)).toEqual({ sent: 0, error: 'EPERM' });
        expect(await udp(APP4, 8080, true)).toEqual({ sent: 0, error: 'EPERM' });
        expect(await pod(APP4, 5353)).toEqual({ error: 'EPERM' });
        expect(await pod(APP4, 8080)).toMatchObject({ data: 'proxy' });
        // An IPv6 socket sending to an IPv4 peer is policed as IPv4.
        expect(await udp(`::ffff:${APP4}`, 8080)).toEqual({ sent: 0, error: 'EPERM' });
        await expect
          .poll(() => seen.filter((e) => e.protocol === 'UDP').length, { timeout: 3000 })
          .toBeGreaterThanOrEqual(3);
        const udpDenials = seen.filter((e) => e.protocol === 'UDP');
        expect(udpDenials).toContainEqual(
          expect.objectContaining({ kind: 'sendmsg', verdict: 'deny', addr: APP4, port: 8080 }),
        );
        expect(udpDenials).toContainEqual(
          expect.objectContaining({ kind: 'connect', verdict: 'deny', addr: APP4, port: 8080 }),
        );
        // Not isolated: datagrams pass, and are never redirected.
        enrolled.set(cgroupId(cg), { id: 7, flags: 0 });
        expect(await udp(APP4, 8080)).toEqual({ sent: 1 });
      } finally {
        for (const k of [...allow.keys()]) allow.delete(k);
        allow.close();
      }
    });

    it('limits refused-datagram events per second and counts the rest; every datagram is still refused', async () => {
      const budget = obj.map<number, Decoded>('event_budget');
      try {
        enrolled.set(cgroupId(cg), { id: 7, flags: C.WL_F_EGRESS_ISOLATED });
        const before = seen.length;
        const suppressedBefore = Number(budget.get(0)?.suppressed ?? 0);
        const count = 2 * C.DATAGRAM_EVENTS_PER_S + 100;
        const t0 = process.hrtime.bigint();
        const r = lastJson<UdpResult>(
          await runInPod(
            { cgroupDir: cg, netnsPath: ns.path },
            udpClient(APP4, 9999, { count, keepGoing: true }),
          ),
        );
        // The limit holds per one-second window; a slow machine (an emulated kernel in
        // make test-kernels) spreads the burst over more windows than a fast one.
        const windows = Math.ceil(Number(process.hrtime.bigint() - t0) / 1e9) + 1;
        expect(r).toMatchObject({ sent: 0, refused: count });
        events.drain();
        const evented = seen.length - before;
        expect(evented).toBeLessThanOrEqual(windows * C.DATAGRAM_EVENTS_PER_S);
        // What the windows could not carry was counted, not sent (100 or more on a fast machine).
        const suppressed = Number(budget.get(0)?.suppressed) - suppressedBefore;
        expect(suppressed).toBeGreaterThanOrEqual(count - windows * C.DATAGRAM_EVENTS_PER_S);
      } finally {
        enrolled.set(cgroupId(cg), { id: 7, flags: 0 });
        budget.close();
      }
    });

    it('stops redirecting new connections once unenrolled', async () => {
      expect(enrolled.delete(cgroupId(cg))).toBe(true);
      expect(await pod(APP4, 8080)).toMatchObject({ data: 'app' });
    });
  });

  it('leaves nothing attached once the links are closed', () => {
    const types = ['cgroup_inet4_connect', 'cgroup_inet6_connect', 'cgroup_inet4_getpeername'];
    for (const t of types) expect(attachedPrograms(cg, t)).toHaveLength(1);
    for (const l of links) l.close();
    links = [];
    for (const t of types) expect(attachedPrograms(cg, t)).toEqual([]);
  });
});
