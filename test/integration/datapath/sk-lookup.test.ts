// sk_lookup attached to a real netns: inbound TCP to a steered address lands on
// the proxy's listener with the original destination as its local address;
// UDP datagrams go on to the app's socket or are dropped.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  attachedPrograms,
  attachNetns,
  type BpfMap,
  type DatapathEvent,
  type Decoded,
  EventStream,
  encodeAddr,
  type Link,
  type LoadedObject,
  layout,
  loadObject,
  netnsSocket,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import {
  type ConnectResult,
  connectScript,
  lastJson,
  runInPod,
  spawnInPod,
} from '../../../agent/src/sandbox/exec.ts';
import { ipIn } from '../../../agent/src/sandbox/host.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';
import { type UdpResult, udpClient, udpServer } from '../../support/udp.ts';

const POD = '10.199.1.1';
const C = layout.constants;

describePrivileged('sk_lookup steering', () => {
  let rig: Rig;
  let ns: { name: string; path: string };
  let obj: LoadedObject;
  let link: Link;
  let targets: BpfMap<Decoded, Decoded>;
  let socks: BpfMap<number, bigint>;
  let proxy: Server;
  let proxyFd: number;
  const accepted: string[] = [];
  const target = () => {
    const a = encodeAddr(POD);
    return { addr: a.bytes, port: 0, family: a.family };
  };
  const dial = (port: number) =>
    runInPod({ netnsPath: ns.path }, connectScript(POD, port)).then((r) =>
      lastJson<ConnectResult>(r),
    );

  beforeAll(async () => {
    rig = makeRig('sklookup');
    ns = rig.netns('pod');
    ipIn(ns.name, 'addr', 'add', `${POD}/32`, 'dev', 'lo');
    obj = loadObject(`${repoRoot}build/bpf/sk_lookup.bpf.o`);
    rig.cleanup.add('object', () => obj.close());
    targets = obj.map('inbound_targets');
    socks = obj.map('inbound_socks');
    rig.cleanup.add('maps', () => {
      targets.close();
      socks.close();
    });
    proxyFd = netnsSocket(ns.path, { address: '127.0.0.1', port: C.PORT_INBOUND, backlog: 64 });
    proxy = createServer((s) => {
      accepted.push(`${s.localAddress}:${s.localPort}`);
      s.end('proxy');
    });
    await new Promise<void>((r) => proxy.listen({ fd: proxyFd }, r));
    rig.cleanup.add('proxy', () => proxy.close());
  });
  afterAll(() => rig.teardown());

  it('refuses before anything is attached (nothing listens there)', async () => {
    expect(await dial(9090)).toEqual({ error: 'ECONNREFUSED' });
  });

  it('steers a steered address to the listener, keeping the original destination', async () => {
    const prog = obj.program('weft_sk_lookup');
    link = attachNetns(prog, ns.path);
    prog.close();
    rig.cleanup.add('link', () => link.close());
    targets.set(target(), { sock_index: 0, workload_id: 4, flags: 0 });
    socks.set(0, BigInt(proxyFd));
    expect(await dial(9090)).toMatchObject({ data: 'proxy', remote: POD, remotePort: 9090 });
    expect(accepted.at(-1)).toBe(`${POD}:9090`);
    expect(link.info()).toMatchObject({ type: 'netns', attachType: 'sk_lookup' });
  });

  it('refuses plaintext at once for a strict target, with a verdict event', async () => {
    const events = new EventStream(obj.mapFd('events'));
    const seen: DatapathEvent[] = [];
    events.on('event', (e) => seen.push(e));
    try {
      targets.set(target(), { sock_index: 0, workload_id: 4, flags: C.WL_F_STRICT });
      const before = accepted.length;
      expect(await dial(9090)).toEqual({ error: 'ECONNREFUSED' });
      expect(accepted.length).toBe(before);
      await expect.poll(() => seen.length, { timeout: 3000 }).toBeGreaterThan(0);
      expect(seen[0]).toMatchObject({
        kind: 'sk_lookup',
        verdict: 'deny',
        workloadId: 4,
        addr: POD,
        port: 9090,
      });
    } finally {
      events.close();
      targets.set(target(), { sock_index: 0, workload_id: 4, flags: 0 });
    }
    expect(await dial(9090)).toMatchObject({ data: 'proxy' });
  });

  it('never steers the HBONE port, and steers the other weft port numbers like any app port', async () => {
    expect(await dial(C.PORT_HBONE)).toEqual({ error: 'ECONNREFUSED' });
    expect(await dial(C.PORT_METRICS)).toMatchObject({ data: 'proxy' });
  });

  it('drops UDP a strict target may not admit, lets a mesh peer through, and remembers only what must be answered', async () => {
    const flows = obj.map<Decoded, bigint>('udp_flows');
    const mesh = obj.map<Decoded, number>('mesh_peers');
    const events = new EventStream(obj.mapFd('events'));
    const seen: DatapathEvent[] = [];
    events.on('event', (e) => seen.push(e));
    const got: string[] = [];
    const server = spawnInPod({ netnsPath: ns.path }, udpServer(5300));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout?.on('data', (d: Buffer) => {
          for (const l of d.toString().split('\n'))
            if (l === 'listening') resolve();
            else if (l.startsWith('{"from"')) got.push((JSON.parse(l) as { data: string }).data);
        });
        server.on('exit', () => reject(new Error('udp server exited')));
      });
      const send = (data: string) =>
        runInPod({ netnsPath: ns.path }, udpClient(POD, 5300, { data })).then((r) =>
          lastJson<UdpResult>(r),
        );
      // Permissive and not isolated: delivered, and nothing is remembered.
      expect(await send('open')).toEqual({ sent: 1 });
      await expect.poll(() => got, { timeout: 3000 }).toContain('open');
      expect([...flows.keys()]).toEqual([]);
      // Strict: the sender (here the pod's own address) is no mesh pod until listed.
      targets.set(target(), { sock_index: 0, workload_id: 4, flags: C.WL_F_STRICT });
      expect(await send('outsider')).toEqual({ sent: 1 });
      const mapped = Buffer.from(
        `00000000000000000000ffff${encodeAddr(POD).bytes.subarray(0, 4).toString('hex')}`,
        'hex',
      );
      mesh.set({ addr: mapped }, 1);
      expect(await send('member')).toEqual({ sent: 1 });
      await expect.poll(() => got, { timeout: 3000 }).toContain('member');
      expect(got).not.toContain('outsider');
      expect(seen).toContainEqual(
        expect.objectContaining({
          kind: 'sk_lookup',
          protocol: 'UDP',
          verdict: 'deny',
          port: 5300,
        }),
      );
      // Isolated for egress too: what it admits is remembered, so its answer may leave.
      targets.set(target(), {
        sock_index: 0,
        workload_id: 4,
        flags: C.WL_F_STRICT | C.WL_F_EGRESS_ISOLATED,
      });
      expect(await send('remembered')).toEqual({ sent: 1 });
      await expect.poll(() => got, { timeout: 3000 }).toContain('remembered');
      expect([...flows.keys()]).toContainEqual(
        expect.objectContaining({
          workload_id: 4,
          local_port: 5300,
          family: C.AF_INET,
          addr: mapped,
        }),
      );
    } finally {
      server.kill('SIGKILL');
      events.close();
      for (const k of [...flows.keys()]) flows.delete(k);
      for (const k of [...mesh.keys()]) mesh.delete(k);
      flows.close();
      mesh.close();
      targets.set(target(), { sock_index: 0, workload_id: 4, flags: 0 });
    }
  });

  it('fails closed when the steered address has lost its listener', async () => {
    socks.delete(0);
    const before = accepted.length;
    expect(await dial(9090)).toEqual({ error: 'ECONNREFUSED' });
    expect(accepted.length).toBe(before);
  });

  it('detaches when the link is closed', async () => {
    expect(attachedPrograms(ns.path, 'sk_lookup')).toHaveLength(1);
    link.close();
    expect(attachedPrograms(ns.path, 'sk_lookup')).toEqual([]);
  });
});
