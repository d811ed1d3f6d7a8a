// The node proxy in this process, with a workload's listeners in a netns of its
// own, and an original-destination lookup that throws (as a failing map read
// would): each connection is reset alone, the error is counted and logged, and
// the process (the agent) carries on serving.
import { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { native } from '../../../agent/src/datapath/native.ts';
import { NodeProxy } from '../../../agent/src/proxy/index.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

describePrivileged('a connection handler that throws', () => {
  let rig: Rig;
  let proxy: NodeProxy;
  let netnsPath: string;
  const logged: string[] = [];
  let lookups = 0;
  let failing = true;

  beforeAll(async () => {
    rig = makeRig('contain');
    netnsPath = rig.netns('pod').path;
    proxy = new NodeProxy({
      lookup: () => {
        lookups++;
        if (failing) throw new Error('map lookup failed: EBADF');
        return undefined; // no original destination: refused the ordinary way
      },
      trustDomain: 'cluster.local',
      log: (l) => logged.push(l),
    });
    rig.cleanup.add('proxy', () => proxy.close());
    await proxy.add(
      {
        key: 'shop/client',
        namespace: 'shop',
        name: 'client',
        serviceAccount: 'client',
        podIP: '10.99.0.2',
        podIPs: ['10.99.0.2'],
        netnsPath,
        enrolled: true,
        strict: false,
        reason: 'test',
      },
      1,
    );
  });
  afterAll(() => rig?.teardown());

  /** Connects to the outbound listener from inside the pod's netns; how it ended. */
  async function connectOutbound(): Promise<string> {
    const fd = native().netnsSocket(netnsPath, { family: 4 });
    const s = new Socket({ fd, readable: true, writable: true });
    s.connect(15001, '127.0.0.1');
    const ended = new Promise<string>((resolve) => {
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      s.on('close', () => resolve('closed'));
    });
    // The reset may beat Node's 'connect' event: either way the connection ends reset.
    s.once('connect', () => s.write('GET / HTTP/1.1\r\n\r\n'));
    return ended;
  }

  it('resets that connection only, counts it, logs it, and serves the next', async () => {
    expect(await connectOutbound()).toBe('ECONNRESET');
    expect(await connectOutbound()).toBe('ECONNRESET');
    expect(lookups).toBe(2);
    expect(proxy.stats.outbound.errors).toBe(2);
    // Throttled to a line a second: the second error is held back.
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(
      /^proxy: a connection handler failed; the connection was aborted: Error: map lookup failed: EBADF\n/,
    );
    // The next connection, whose handling works, is handled as ever: no error counted.
    failing = false;
    await connectOutbound();
    expect(lookups).toBe(3);
    expect(proxy.stats.outbound.errors).toBe(2);
    expect(proxy.stats.outbound.failed).toBe(1);
  });
});
