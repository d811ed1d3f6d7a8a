// Sockets made inside another network namespace: Node listens on them and a
// process inside that namespace reaches them, while the host's loopback does not.
import { type AddressInfo, connect, createServer, type Server, Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  connectInNetns,
  listenInNetns,
  native,
  netnsSocket,
} from '../../../agent/src/datapath/index.ts';
import {
  type ConnectResult,
  connectScript,
  lastJson,
  runInPod,
} from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

describePrivileged('sockets in another netns', () => {
  let rig: Rig;
  let ns: { name: string; path: string };
  let server: Server;
  // A port unlikely to be in use on the host, so "refused there" means "not there".
  const port = 20000 + (process.pid % 20000);

  beforeAll(async () => {
    rig = makeRig('netns');
    ns = rig.netns('a');
    server = await listenInNetns(ns.path, { address: '127.0.0.1', port }, (s) => s.end('inside'));
    rig.cleanup.add('server', () => server.close());
  });
  afterAll(() => rig.teardown());

  it('is reached from inside the namespace', async () => {
    const r = lastJson<ConnectResult>(
      await runInPod({ netnsPath: ns.path }, connectScript('127.0.0.1', port)),
    );
    expect(r).toMatchObject({ data: 'inside', remotePort: port });
  });

  it('is reached by a socket made in the namespace and wrapped by Node', async () => {
    const s = connectInNetns(ns.path, { host: '127.0.0.1', port });
    const data = await new Promise<string>((resolve, reject) => {
      let got = '';
      s.on('data', (d) => {
        got += d;
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    expect(data).toBe('inside');
  });

  it('is not on the host loopback', async () => {
    const code = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(code).toBe('ECONNREFUSED');
  });

  it('binds IPv6 and UDP sockets too', () => {
    const n = native();
    const tcp6 = netnsSocket(ns.path, {
      family: 6,
      address: '::1',
      port: 0,
      backlog: 8,
      v6only: true,
    });
    const udp = netnsSocket(ns.path, { type: 'udp', address: '127.0.0.1', port: 0 });
    expect(tcp6).toBeGreaterThan(2);
    expect(udp).toBeGreaterThan(2);
    n.closeFd(tcp6);
    n.closeFd(udp);
  });

  it('says which step failed and where', () => {
    expect(() => netnsSocket('/var/run/netns/weft-no-such-ns', { port: 0 })).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        message: expect.stringContaining('open netns'),
      }),
    );
    expect(() => netnsSocket(ns.path, { address: '127.0.0.1', port })).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', message: expect.stringContaining('bind') }),
    );
  });

  it('makes a socket that resets its peer when closed (abortive), and one that ends it', async () => {
    const closing = async (abortive: boolean) => {
      const seen = new Promise<string>((resolve) => {
        const probe = createServer((s) => {
          s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
          s.on('end', () => resolve('end'));
          s.resume();
        });
        probe.listen(0, '127.0.0.1', () => {
          // Made in this process's own netns, to reach the probe on its loopback.
          const fd = native().netnsSockets('/proc/self/ns/net', { noDelay: true, abortive }, 1)[0]!;
          const s = new Socket({ fd, readable: true, writable: true });
          const p = (probe.address() as AddressInfo).port;
          s.connect(p, '127.0.0.1', () => setTimeout(() => s.destroy(), 20));
          s.on('close', () => setTimeout(() => probe.close(), 50));
        });
      });
      return seen;
    };
    expect(await closing(true)).toBe('ECONNRESET');
    expect(await closing(false)).toBe('end');
  });
});
