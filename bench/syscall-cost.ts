// What one system call of the kinds a new connection makes costs on this machine, in
// the agent's own process shape (Node, the addon): a loop of each, µs per call, the
// median of 5 runs. The connection benchmarks' CPU per connection swings by a third
// with the machine's load; system calls saved per connection, counted (conn-cost.ts,
// WEFT_CONN_STRACE=1) and priced here, do not. Run as root (a BPF map).
//   node bench/syscall-cost.ts
import { connect, createServer, type Socket as NetSocket } from 'node:net';
import { loadObject, native, repoRoot } from '../agent/src/datapath/index.ts';
import { fdOf } from '../agent/src/proxy/pipe.ts';
import { median } from './stats.ts';

const N = 20_000;
const time = (f: () => void): number => {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f();
    runs.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  return median(runs);
};

const n = native();
const server = createServer(() => {});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
const s: NetSocket = connect(port, '127.0.0.1');
await new Promise((r) => s.once('connect', r));
const fd = fdOf(s);
let on = false;
const rows: [string, number][] = [
  [
    'setsockopt (SO_LINGER, the addon)',
    time(() => {
      on = !on;
      n.socketAbortive(fd, on);
    }),
  ],
  [
    "setsockopt (TCP_NODELAY, Node's handle)",
    time(() =>
      (s as unknown as { _handle: { setNoDelay(on: boolean): void } })._handle.setNoDelay(true),
    ),
  ],
  [
    'getpeername (Node, uncached)',
    time(() =>
      (s as unknown as { _handle: { getpeername(o: object): void } })._handle.getpeername({}),
    ),
  ],
];
// The original-destination map of the datapath's object, loaded (not attached, not pinned).
const obj = loadObject(`${repoRoot}build/bpf/sock_ops.bpf.o`);
const map = obj.map<{ workload_id: number; port: number; family: number }, unknown>('conn_orig');
const key = { workload_id: 1, port: 1, family: 2 };
const put = () =>
  map.set(key, { addr: Buffer.alloc(16), port: 80, family: 2, workload_id: 1 } as never);
const alone = time(put);
rows.push([
  'bpf lookup + delete (the original destination, before)',
  time(() => {
    put();
    map.get(key);
    map.delete(key);
  }) - alone,
]);
rows.push([
  'bpf lookup-and-delete (now)',
  time(() => {
    put();
    map.take(key);
  }) - alone,
]);
for (const [what, us] of rows) console.log(`${us.toFixed(2).padStart(7)} µs  ${what}`);
s.destroy();
server.close();
map.close();
obj.close();
