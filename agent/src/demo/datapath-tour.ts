// The newest end-to-end flow, until the shop demo lands: one pod (a netns and a
// cgroup of its own), weft's connect hooks attached to that cgroup only, and a
// real client whose connect() is left alone, redirected to the proxy port, and
// denied by policy with the verdict arriving on the ring buffer.
import type { Server } from 'node:net';
import {
  attachCgroup,
  cgroupId,
  type DatapathEvent,
  EventStream,
  encodeAddr,
  layout,
  listenInNetns,
  loadObject,
  repoRoot,
} from '../datapath/index.ts';
import { Cleanup } from '../sandbox/cleanup.ts';
import { type ConnectResult, connectScript, lastJson, runInPod } from '../sandbox/exec.ts';
import { addCgroup, addNetns, delCgroupTree, delNetns, ipIn } from '../sandbox/host.ts';
import { Narrator } from './output.ts';

const C = layout.constants;
const APP = '10.200.0.10';

export async function datapathTour(): Promise<number> {
  const say = new Narrator();
  const cleanup = new Cleanup();
  const name = `weft-demo-${process.pid}`;
  try {
    say.step(
      'Make a pod',
      'A network namespace and a cgroup of its own; an app listens at 10.200.0.10:8080.',
    );
    const ns = addNetns(`${name}-pod`);
    cleanup.add('netns', () => delNetns(`${name}-pod`));
    ipIn(`${name}-pod`, 'addr', 'add', `${APP}/32`, 'dev', 'lo');
    const cg = addCgroup(`${name}-pod`);
    cleanup.add('cgroup', () => delCgroupTree(cg));
    const servers: Server[] = [];
    cleanup.add('servers', () => {
      for (const s of servers) s.close();
    });
    servers.push(
      await listenInNetns(ns, { address: APP, port: 8080 }, (s) => s.end('hello from the app')),
    );
    servers.push(
      await listenInNetns(ns, { address: '127.0.0.1', port: C.PORT_OUTBOUND }, (s) =>
        s.end('hello from the weft proxy port'),
      ),
    );
    say.info(`netns ${ns}, cgroup ${cg}`);
    const client = () =>
      runInPod({ cgroupDir: cg, netnsPath: ns }, connectScript(APP, 8080)).then((r) =>
        lastJson<ConnectResult>(r),
      );

    say.step(
      'Load and attach the connect hooks',
      'Compiled BPF, verified by this kernel, attached to the pod cgroup only.',
    );
    const obj = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`);
    cleanup.add('object', () => obj.close());
    for (const p of obj.programNames()) {
      const prog = obj.program(p);
      const link = attachCgroup(prog, cg);
      prog.close();
      cleanup.add(`link ${p}`, () => link.close());
      say.info(`${p} → ${prog.attachType}`);
    }
    const enrolled = obj.map('enrolled');
    const egress = obj.map('egress_deny');
    const events = new EventStream(obj.mapFd('events'));
    cleanup.add('maps', () => {
      enrolled.close();
      egress.close();
      events.close();
    });
    const seen: DatapathEvent[] = [];
    events.on('event', (e) => seen.push(e));

    say.step(
      'Not enrolled: untouched',
      'The pod is not in the mesh, so its connect() goes straight to the app.',
    );
    let r = await client();
    say.expect(r.data === 'hello from the app', `client got "${r.data ?? r.error}"`);

    say.step(
      'Enroll the pod',
      'One map entry: cgroup id → workload. No restart; the next connect() is redirected.',
    );
    enrolled.set(cgroupId(cg), { id: 1, flags: 0 });
    r = await client();
    say.expect(r.data === 'hello from the weft proxy port', `client got "${r.data ?? r.error}"`);
    say.expect(
      r.remote === APP && r.remotePort === 8080,
      'the app still sees its original peer through getpeername()',
      `${r.remote}:${r.remotePort}`,
    );

    say.step(
      'Deny by egress policy',
      'A connect-time deny: the app gets EPERM at once, and the verdict is streamed out.',
    );
    const a = encodeAddr(APP);
    egress.set(
      { workload_id: 1, port: 8080, family: a.family, addr: a.bytes },
      { policy_id: 1, rule: 0, action: C.VERDICT_DENY, stage: 0 },
    );
    r = await client();
    say.expect(r.error === 'EPERM', `connect() failed with ${r.error ?? 'nothing'}`);
    for (let i = 0; i < 100 && seen.length === 0; i++)
      await new Promise((res) => setTimeout(res, 10));
    const ev = seen[0];
    say.expect(
      ev?.verdict === 'deny' && ev.addr === APP && ev.port === 8080,
      'a deny event arrived from the ring buffer',
      ev ? `${ev.kind} ${ev.verdict} workload=${ev.workloadId} → ${ev.addr}:${ev.port}` : 'none',
    );
  } catch (e) {
    say.expect(false, `the tour stopped: ${(e as Error).message}`);
  } finally {
    say.step(
      'Clean up',
      'Links, maps, the cgroup and the namespace go; nothing stays attached or pinned.',
    );
    const errors = cleanup.dispose();
    say.expect(errors.length === 0, 'removed everything', errors.map((e) => e.message).join('; '));
  }
  process.stdout.write(
    say.failures === 0
      ? '\nAll expected outcomes seen.\n'
      : `\n${say.failures} expected outcome(s) not seen.\n`,
  );
  return say.failures === 0 ? 0 : 1;
}
