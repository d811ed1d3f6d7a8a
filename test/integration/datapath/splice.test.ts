// sockops + sk_msg on a real cgroup: with the switch on, both ends of a
// loopback connection enter the sockhash and their bytes skip the TCP stack
// (the netns's TCP segment counter barely moves), and still arrive intact.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  attachCgroup,
  attachedPrograms,
  attachSkMsg,
  type BpfMap,
  type Decoded,
  type Link,
  type LoadedObject,
  layout,
  loadObject,
  type MapAttachment,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

const MB = 4;

// Echo over loopback: the client sends MB MiB, the server echoes it back; the
// script reports whether the echo matched and TCP OutSegs of its netns.
const echoScript = `
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
const outSegs = () => {
  const lines = readFileSync('/proc/self/net/snmp', 'utf8').split('\\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(' '); const vals = lines[1].split(' ');
  return Number(vals[names.indexOf('OutSegs')]);
};
const server = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', () => {
  const data = Buffer.alloc(${MB} * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const before = outSegs();
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    const chunks = []; let got = 0;
    c.on('data', (d) => { chunks.push(d); got += d.length; if (got >= data.length) {
      const same = createHash('sha256').update(Buffer.concat(chunks)).digest('hex') ===
        createHash('sha256').update(data).digest('hex');
      console.log(JSON.stringify({ same, got, segs: outSegs() - before }));
      c.destroy(); server.close();
    }});
    c.write(data);
  });
});
`;

describePrivileged('sockops + sk_msg splice', () => {
  let rig: Rig;
  let ns: { name: string; path: string };
  let cg: string;
  let obj: LoadedObject;
  let sockopsLink: Link;
  let msg: MapAttachment;
  let meta: BpfMap<number, Decoded>;
  let sockhash: BpfMap<Decoded, bigint>;
  const echo = () =>
    runInPod({ cgroupDir: cg, netnsPath: ns.path }, echoScript).then((r) =>
      lastJson<{ same: boolean; got: number; segs: number }>(r),
    );

  beforeAll(() => {
    rig = makeRig('splice');
    ns = rig.netns('pod');
    cg = rig.cgroup('pod');
    obj = loadObject(`${repoRoot}build/bpf/sock_ops.bpf.o`);
    rig.cleanup.add('object', () => obj.close());
    meta = obj.map('meta');
    sockhash = obj.map('splice_socks');
    rig.cleanup.add('maps', () => {
      meta.close();
      sockhash.close();
    });
    const sockops = obj.program('weft_sockops');
    const skmsg = obj.program('weft_sk_msg');
    sockopsLink = attachCgroup(sockops, cg);
    rig.cleanup.add('sockops', () => sockopsLink.close());
    msg = attachSkMsg(skmsg, sockhash);
    rig.cleanup.add('sk_msg', () => msg.detach());
    sockops.close();
    skmsg.close();
  });
  afterAll(() => rig.teardown());

  it('carries loopback traffic through TCP while the switch is off', async () => {
    meta.set(0, { layout_version: layout.LAYOUT_VERSION, flags: 0 });
    const r = await echo();
    expect(r.same).toBe(true);
    // 2 x 4 MiB over loopback's 64 KiB segments: well over a hundred segments.
    expect(r.segs).toBeGreaterThan(100);
  });

  it('splices the same traffic past TCP once switched on, bytes intact', async () => {
    meta.set(0, { layout_version: layout.LAYOUT_VERSION, flags: layout.constants.META_F_SPLICE });
    const r = await echo();
    expect(r.same).toBe(true);
    expect(r.got).toBe(MB * 1024 * 1024);
    // Handshake, ACKs and FINs only.
    expect(r.segs).toBeLessThan(30);
  });

  it('removes closed sockets from the sockhash and detaches cleanly', () => {
    expect([...sockhash.keys()]).toEqual([]);
    expect(attachedPrograms(cg, 'cgroup_sock_ops')).toHaveLength(1);
    sockopsLink.close();
    msg.detach();
    expect(attachedPrograms(cg, 'cgroup_sock_ops')).toEqual([]);
  });
});
