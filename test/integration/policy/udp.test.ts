// UDP in a 2-node sandbox with real datagrams between pod netns: egress
// NetworkPolicy at sendto() and connect() (EPERM), ingress NetworkPolicy and
// strict mTLS per datagram in sk_lookup, answers let through, DNS through the
// one port a policy opens, SCTP refused by name; and `weft policy trace
// --protocol udp` says what the kernel did.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import { type Datagram, type UdpResult, udpClient, udpServer } from '../../support/udp.ts';

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('vault', 'weft.dev/mesh: enabled, weft.dev/mtls: strict'),
  namespace('outside'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'peer', 'node-1'),
  pod('shop', 'server', 'node-2'),
  pod('vault', 'safe', 'node-2'),
  pod('outside', 'plain', 'node-1'),
  pod('outside', 'dns', 'node-2'),
);

// The client may send UDP 5353 to the server and UDP 53 to the DNS pod, and
// nothing else; nobody may send to it (answers still reach it). The server
// admits UDP 5353 from its own namespace and TCP 5354 from anywhere, and may
// send nothing (its answers still leave).
const policies = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client, namespace: shop}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Ingress, Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: server}}}]
    ports: [{protocol: UDP, port: 5353}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: outside}}, podSelector: {matchLabels: {app: dns}}}]
    ports: [{protocol: UDP, port: 53}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server, namespace: shop}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {}}]
    ports: [{protocol: UDP, port: 5353}]
  - ports: [{protocol: TCP, port: 5354}]
`;

const sctp = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sctp, namespace: shop}
spec:
  podSelector: {matchLabels: {app: peer}}
  egress:
  - ports: [{protocol: SCTP, port: 9}]
`;

/** Answers every A question with 10.9.9.9: just enough DNS for a resolver. */
const dnsServer = `
import dgram from 'node:dgram';
const s = dgram.createSocket('udp4');
s.on('message', (q, r) => {
  let end = 12;
  while (q[end] !== 0) end += q[end] + 1;
  const question = q.subarray(12, end + 5);
  const head = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 9, 9]);
  s.send(Buffer.concat([head, question, answer]), r.port, r.address);
});
s.bind(53, '0.0.0.0', () => console.log('listening'));
`;

/** Resolves a name through one DNS server with Node's resolver (c-ares). */
const resolveScript = (server: string) => `
import { Resolver } from 'node:dns/promises';
const r = new Resolver({ timeout: 2000, tries: 1 });
r.setServers([${JSON.stringify(server)}]);
try { console.log(JSON.stringify({ addresses: await r.resolve4('db.shop.test') })); }
catch (e) { console.log(JSON.stringify({ error: e.code })); }
`;

describePrivileged('UDP policed by the kernel', () => {
  let c: TestCluster;
  const received = new Map<string, Datagram[]>();

  const listen = async (key: string, script: string) => {
    const child: ChildProcess = await c.serve(key, script);
    const got: Datagram[] = [];
    received.set(key, got);
    let buf = '';
    child.stdout?.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('{"from"')) got.push(JSON.parse(l) as Datagram);
    });
  };
  const send = async (from: string, to: string, port: number, o: Parameters<typeof udpClient>[2]) =>
    lastJson<UdpResult>(await runInPod(c.pod(from), udpClient(c.pod(to).ip, port, o), 20_000));
  const datagrams = (key: string) => (received.get(key) ?? []).map((d) => d.data);
  /** The kernel's answer as the trace foretells it, from the same manifests. */
  const trace = (from: string, to: string, port: number) => {
    const m = loadManifests([c.sandbox.state.resolvedDir]);
    expect(m.errors).toEqual([]);
    return tracePolicy({
      cluster: m.cluster,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from,
      to,
      port,
      protocol: 'UDP',
    }).verdict;
  };

  beforeAll(async () => {
    c = await testCluster('u', { 'cluster.yaml': cluster, 'policies.yaml': policies });
    await listen('shop/server', udpServer(5353, { echo: true }));
    await listen('vault/safe', udpServer(7000));
    await listen('outside/plain', udpServer(9000));
    await c.serve('outside/dns', dnsServer);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('lets the allowed UDP port through both ways: delivered, and the answer comes back', async () => {
    // The server may send nothing and the client admits nothing: the echo
    // passes both as an answer to what the client sent.
    const r = await send('shop/client', 'shop/server', 5353, { data: 'allowed', waitMs: 5000 });
    expect(r).toEqual({ sent: 1, reply: 'allowed' });
    expect(datagrams('shop/server')).toContain('allowed');
    expect(trace('shop/client', 'shop/server', 5353)).toBe('allow');
  });

  it("refuses an egress-isolated pod's sendto() to a peer or port its policy does not allow with EPERM, with an event", async () => {
    expect(await send('shop/client', 'outside/plain', 9000, { data: 'denied' })).toEqual({
      sent: 0,
      error: 'EPERM',
    });
    expect(await send('shop/client', 'shop/server', 5354, { data: 'denied' })).toEqual({
      sent: 0,
      error: 'EPERM',
    });
    expect(trace('shop/client', 'outside/plain', 9000)).toBe('deny');
    expect(trace('shop/client', 'shop/server', 5354)).toBe('deny');
    const events = await adminGet<
      { kind: string; protocol: string; verdict: string; addr: string; port: number }[]
    >(c.sandbox.state.nodes[0]!.adminSocket, '/events');
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'sendmsg',
        protocol: 'UDP',
        verdict: 'deny',
        addr: c.pod('outside/plain').ip,
        port: 9000,
      }),
    );
  });

  it('refuses connect() of a UDP socket to a denied peer with EPERM', async () => {
    expect(
      await send('shop/client', 'outside/plain', 9000, { data: 'denied', connect: true }),
    ).toEqual({ sent: 0, error: 'EPERM' });
    // A connected socket to an allowed peer works, answers included.
    expect(
      await send('shop/client', 'shop/server', 5353, {
        data: 'connected',
        connect: true,
        waitMs: 5000,
      }),
    ).toEqual({ sent: 1, reply: 'connected' });
    expect(datagrams('outside/plain')).not.toContain('denied');
  });

  it('does not deliver UDP the destination’s ingress policy refuses', async () => {
    expect(await send('outside/plain', 'shop/server', 5353, { data: 'from-plain' })).toEqual({
      sent: 1,
    });
    // A datagram the policy admits, sent after: once it is in, the refused one would be too.
    expect(await send('shop/peer', 'shop/server', 5353, { data: 'marker-1' })).toEqual({
      sent: 1,
    });
    await expect.poll(() => datagrams('shop/server'), { timeout: 5000 }).toContain('marker-1');
    expect(datagrams('shop/server')).not.toContain('from-plain');
    expect(trace('outside/plain', 'shop/server', 5353)).toBe('deny');
    expect(trace('shop/peer', 'shop/server', 5353)).toBe('allow');
    // The TCP rule on 5354 opens no UDP.
    expect(await send('shop/peer', 'shop/server', 5354, { data: 'tcp-port' })).toEqual({ sent: 1 });
    expect(trace('shop/peer', 'shop/server', 5354)).toBe('deny');
  });

  it('drops UDP from outside the mesh into a strict namespace, and admits it from a mesh pod', async () => {
    expect(await send('outside/plain', 'vault/safe', 7000, { data: 'outsider' })).toEqual({
      sent: 1,
    });
    expect(await send('shop/peer', 'vault/safe', 7000, { data: 'member' })).toEqual({ sent: 1 });
    await expect.poll(() => datagrams('vault/safe'), { timeout: 5000 }).toContain('member');
    expect(datagrams('vault/safe')).not.toContain('outsider');
    expect(trace('outside/plain', 'vault/safe', 7000)).toBe('deny');
    expect(trace('shop/peer', 'vault/safe', 7000)).toBe('allow');
    // The answer to what the strict pod itself sent outside the mesh comes back.
    const q = Buffer.from('123401000001000000000000026462000001000100', 'hex').toString('latin1');
    const asked = await send('vault/safe', 'outside/dns', 53, { data: q, waitMs: 5000 });
    expect(asked.sent).toBe(1);
    expect(asked.reply).toBeDefined();
    const events = await adminGet<{ kind: string; protocol: string; addr: string }[]>(
      c.sandbox.state.nodes[1]!.adminSocket,
      '/events',
    );
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'sk_lookup', protocol: 'UDP', addr: c.pod('vault/safe').ip }),
    );
  });

  it('resolves names for an egress-isolated pod through the DNS pod its policy allows on UDP 53', async () => {
    const ok = lastJson<{ addresses?: string[]; error?: string }>(
      await runInPod(c.pod('shop/client'), resolveScript(c.pod('outside/dns').ip), 20_000),
    );
    expect(ok).toEqual({ addresses: ['10.9.9.9'] });
    // The same question by sendto(), on an unconnected socket: the answer comes back too.
    const q = Buffer.from('123401000001000000000000026462000001000100', 'hex').toString('latin1');
    const raw = await send('shop/client', 'outside/dns', 53, { data: q, waitMs: 5000 });
    expect(raw.sent).toBe(1);
    expect(raw.reply).toBeDefined();
    // A DNS server the policy does not name is out of reach.
    expect(await send('shop/client', 'outside/plain', 53, { data: q })).toEqual({
      sent: 0,
      error: 'EPERM',
    });
  });

  it('traces UDP live with what the kernel tables installed on both nodes say', async () => {
    const { spawnSync } = await import('node:child_process');
    const { repoRoot } = await import('../../../agent/src/datapath/native.ts');
    const live = (from: string, to: string, port: number) => {
      const r = spawnSync(
        `${repoRoot}bin/weft`,
        [
          'policy',
          'trace',
          '--live',
          '--sandbox',
          c.sandbox.state.name,
          '--protocol',
          'udp',
        ].concat(['--from', from, '--to', to, '--port', String(port), '-o', 'json']),
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as {
        verdict: string;
        protocol: string;
        stages: { stage: string; result: string; reason: string }[];
      };
    };
    const ok = live('shop/client', 'shop/server', 5353);
    expect(ok).toMatchObject({ verdict: 'allow', protocol: 'UDP' });
    expect(ok.stages).toContainEqual(
      expect.objectContaining({ stage: 'egress, installed on node-1', result: 'allow' }),
    );
    expect(ok.stages).toContainEqual(
      expect.objectContaining({ stage: 'ingress (UDP), installed on node-2', result: 'allow' }),
    );
    // The TCP rule's port is not in the UDP table the kernel reads.
    const tcpPort = live('shop/peer', 'shop/server', 5354);
    expect(tcpPort.verdict).toBe('deny');
    expect(tcpPort.stages).toContainEqual(
      expect.objectContaining({ stage: 'ingress (UDP), installed on node-2', result: 'deny' }),
    );
    const denied = live('shop/client', 'outside/plain', 9000);
    expect(denied.verdict).toBe('deny');
    expect(denied.stages).toContainEqual(
      expect.objectContaining({ stage: 'egress, installed on node-1', result: 'deny' }),
    );
  });

  it('refuses a NetworkPolicy with an SCTP port by name, in weft status, and fails closed for the pods it selects', async () => {
    // Not isolated yet: the peer may send anywhere.
    expect(await send('shop/peer', 'outside/plain', 9000, { data: 'open' })).toEqual({ sent: 1 });
    c.write('sctp.yaml', sctp);
    const rejected = async () =>
      (await c.status('node-1')).rejected.find((r) => r.object === 'NetworkPolicy shop/sctp');
    await expect.poll(rejected, { timeout: 5000, interval: 100 }).toMatchObject({
      field: 'spec.egress[0].ports[0].protocol',
      message: expect.stringContaining('SCTP'),
      failsClosed: true,
    });
    expect((await rejected())?.file).toMatch(/sctp\.yaml$/);
    // The policy could only have added allows: while it cannot be enforced, the pods it
    // selects are isolated with nothing allowed, instead of left open.
    await expect
      .poll(() => send('shop/peer', 'outside/plain', 9000, { data: 'closed' }), {
        timeout: 5000,
        interval: 200,
      })
      .toEqual({ sent: 0, error: 'EPERM' });
  });
});
