// The newest end-to-end flow: a 2-node sandbox with a small shop and an
// intruder; the shop enrolled live without a restart; frontend → cart across
// nodes over mutual TLS; a NetworkPolicy that keeps the intruder out and the
// trace that explains it; an HTTP rule (GET passes, POST gets 403); the flows;
// an agent upgrade under an open connection; an agent crash that fails closed, its
// recovery, and a clean teardown.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminGet, fetchAccessLog, fetchStatus } from '../admin/index.ts';
import { formatFlow, formatTrace } from '../cli/index.ts';
import { TRUST_DOMAIN, WEFT_NAMESPACE } from '../config/index.ts';
import { tracePolicy } from '../policy/index.ts';
import { lastJson, runInPod, Sandbox, spawnInPod, teardown } from '../sandbox/index.ts';
import { loadManifests } from '../sources/manifests/index.ts';
import { MESH_LABEL } from '../state/index.ts';
import { type Flow, formatStatus } from '../telemetry/index.ts';
import { Narrator } from './output.ts';
import { captureWhile } from './wire.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const namespaces = (enrolled: boolean) => `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {${enrolled ? `${MESH_LABEL}: enabled` : ''}}
`;
const pods = `apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {nodeName: node-1, serviceAccountName: frontend, containers: [{name: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop, labels: {app: cart}}
spec: {nodeName: node-2, serviceAccountName: cart, containers: [{name: cart, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: intruder}
---
apiVersion: v1
kind: Pod
metadata: {name: evil, namespace: intruder}
spec: {nodeName: node-1, containers: [{name: evil}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{port: 80, targetPort: http}]
`;

const policies = (http: boolean) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart-from-shop, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress:
  - from: [{podSelector: {}}]
    ports: [{port: http}]
${
  http
    ? `---
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: cart-reads, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["${TRUST_DOMAIN}/ns/shop/sa/frontend"]}}]
    to: [{operation: {methods: ["GET"]}}]
`
    : ''
}`;

// The cart answers with who it saw: a proxied connection arrives from 127.0.0.6.
const cartServer = `
import http from 'node:http';
http.createServer((req, res) => res.end('cart saw ' + req.socket.remoteAddress)).listen(8080, '0.0.0.0', () => console.log('listening'));
`;
/** One HTTP request over a plain TCP connection; prints the peer, the status and the body. */
const httpScript = (host: string, port: number, method = 'GET') => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: ${port} });
s.setTimeout(5000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
let peer;
s.on('connect', () => { peer = s.remoteAddress + ':' + s.remotePort; s.write('${method} / HTTP/1.1\\r\\nHost: cart\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n'); });
let raw = '';
s.on('data', (d) => { raw += d; });
s.on('end', () => {
  const status = Number(raw.split(' ')[1]);
  const data = raw.split('\\r\\n\\r\\n').slice(1).join('').replace(/^[0-9a-f]+\\r\\n|\\r\\n0\\r\\n\\r\\n$/g, '');
  console.log(JSON.stringify({ peer, status, data }));
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;

/** GETs every 100 ms over one kept-alive connection until SIGTERM; prints the tally. */
const keptAliveScript = (host: string) => `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const sockets = new Set();
let ok = 0, failed = 0;
const tick = setInterval(() => {
  const req = http.get({ host: '${host}', port: 80, path: '/', agent }, (res) => {
    sockets.add(res.socket);
    res.resume();
    res.on('end', () => { if (res.statusCode === 200) ok++; else failed++; });
  });
  req.on('error', () => failed++);
}, 100);
console.log('started');
process.on('SIGTERM', () => {
  clearInterval(tick);
  setTimeout(() => { console.log(JSON.stringify({ ok, failed, connections: sockets.size })); process.exit(0); }, 300);
});
`;

export async function sandboxTour(): Promise<number> {
  const say = new Narrator();
  const name = `demo${process.pid % 100000}`;
  const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
  let sbx: Sandbox | undefined;
  try {
    say.step(
      'Start a 2-node sandbox',
      'Each node and pod is a network namespace; each node runs its own weft agent.',
    );
    writeFileSync(join(dir, 'namespace.yaml'), namespaces(false));
    writeFileSync(join(dir, 'shop.yaml'), pods);
    sbx = await Sandbox.up({ name, nodes: 2, manifests: dir });
    const at = (key: string) => {
      const p = sbx!.state.pods.find((x) => x.key === key)!;
      return { netnsPath: p.netns, cgroupDir: p.cgroup, ip: p.ip };
    };
    const vip = sbx.state.services['shop/cart']!;
    say.info(
      `frontend ${at('shop/frontend').ip} on node-1, cart ${at('shop/cart').ip} on node-2, Service cart ${vip}:80`,
    );
    const cart = spawnInPod(at('shop/cart'), cartServer);
    await new Promise<void>((r) => cart.stdout?.on('data', () => r()));
    type Reply = { peer?: string; status?: number; data?: string; error?: string };
    const callFrom = async (pod: string, host: string, port: number, method = 'GET') =>
      lastJson<Reply>(await runInPod(at(pod), httpScript(host, port, method)));
    const call = (host: string, port: number) => callFrom('shop/frontend', host, port);

    say.step(
      'Outside the mesh',
      'Namespace shop is not enrolled yet: the frontend reaches the cart directly.',
    );
    let r = await call(at('shop/cart').ip, 8080);
    say.expect(r.data === `cart saw ${at('shop/frontend').ip}`, `"${r.data ?? r.error}"`);

    say.step(
      'Enroll the namespace live',
      'Label shop with weft.dev/mesh=enabled. No pod restarts.',
    );
    const t0 = performance.now();
    writeFileSync(join(dir, 'namespace.yaml'), namespaces(true));
    for (let i = 0; i < 50; i++) {
      r = await call(vip, 80);
      if (r.data === 'cart saw 127.0.0.6') break;
    }
    say.expect(
      r.data === 'cart saw 127.0.0.6',
      'the call to the Service went through both node proxies',
      `${(performance.now() - t0).toFixed(0)} ms after the label`,
    );
    say.expect(
      r.peer === `${vip}:80`,
      'the frontend still sees the Service address as its peer',
      r.peer ?? '',
    );

    say.step(
      'Check the identity on the far side',
      "node-2 terminated mutual TLS and logged who called: the SPIFFE ID in the frontend's certificate.",
    );
    const log = await fetchAccessLog(sbx.state.nodes[1]!.adminSocket);
    const hop = log.find((e) => e.via === 'hbone' && e.direction === 'inbound');
    say.expect(
      hop?.source === `spiffe://${TRUST_DOMAIN}/ns/shop/sa/frontend`,
      "cart's node saw the frontend's identity over HBONE (HTTP/2 CONNECT, TLS 1.3)",
      hop ? `${hop.source} → ${hop.destination}` : 'no HBONE entry',
    );

    say.step(
      'Look at the wire',
      "tcpdump in the cart's netns while the frontend calls: what reaches port 15008 is TLS records; the reply's text never crosses in the clear.",
    );
    const wire = await captureWhile(at('shop/cart').netnsPath, 15008, 'cart saw', async () => {
      r = await call(vip, 80);
    });
    say.info(
      `${wire.segments} segments to cart:15008, ${wire.tlsRecords} begin a TLS record (${wire.handshakes} handshake)`,
    );
    say.expect(
      r.data === 'cart saw 127.0.0.6' && wire.segments > 0 && wire.tlsRecords === wire.segments,
      'every segment to the HBONE port is a TLS record',
    );
    say.expect(!wire.plaintextSeen, `"cart saw" is not on the wire, though the frontend read it`);

    say.step('Ask node-1 what it enrolled', 'weft status --sandbox NAME --node node-1');
    const st = await fetchStatus(sbx.state.nodes[0]!.adminSocket);
    for (const line of formatStatus(st).trimEnd().split('\n')) say.info(line);
    say.expect(st.proxy.outbound.accepted > 0, 'node-1 proxy counted the outbound connection');

    say.step(
      'Watch the flows',
      'weft observe --sandbox NAME: every verdict the nodes made, with where and why.',
    );
    const flows = (
      await Promise.all(sbx.state.nodes.map((n) => adminGet<Flow[]>(n.adminSocket, '/flows')))
    )
      .flat()
      .sort((a, b) => (a.time < b.time ? -1 : 1));
    for (const f of flows.slice(-6)) say.info(formatFlow(f));
    say.expect(
      flows.some((f) => f.where === 'proxy inbound (hbone)' && f.verdict === 'allow'),
      'the frontend → cart call shows as an allowed HBONE flow',
    );

    say.step(
      'Keep the intruder out',
      'A NetworkPolicy lets only pods of shop reach the cart. The intruder is outside the mesh: its plaintext connection is refused in the kernel (sk_lookup), before any socket.',
    );
    r = await callFrom('intruder/evil', at('shop/cart').ip, 8080);
    say.expect(
      r.data !== undefined,
      'before the policy, the intruder reaches the cart',
      r.data ?? r.error ?? '',
    );
    writeFileSync(join(dir, 'policies.yaml'), policies(false));
    for (let i = 0; i < 50 && r.error !== 'ECONNREFUSED'; i++) {
      r = await callFrom('intruder/evil', at('shop/cart').ip, 8080);
    }
    say.expect(
      r.error === 'ECONNREFUSED',
      `the intruder is refused at once (${r.error ?? r.data})`,
    );
    r = await call(vip, 80);
    say.expect(r.data === 'cart saw 127.0.0.6', 'the frontend still gets through');

    say.step(
      'Ask why',
      'weft policy trace --from intruder/evil --to shop/cart --port 8080 -f <manifests>',
    );
    const m = loadManifests([sbx.state.resolvedDir]);
    const why = tracePolicy({
      cluster: m.cluster,
      trustDomain: TRUST_DOMAIN,
      rootNamespace: WEFT_NAMESPACE,
      from: 'intruder/evil',
      to: 'shop/cart',
      port: 8080,
    });
    for (const line of formatTrace(why).trimEnd().split('\n')) say.info(line);
    say.expect(
      why.verdict === 'deny' &&
        why.stages.some((x) => x.stage === 'ingress NetworkPolicy' && x.result === 'deny'),
      'the trace names the NetworkPolicy that refused it',
    );

    say.step(
      'An HTTP rule',
      'An AuthorizationPolicy lets the frontend GET from the cart, nothing else: the proxy reads each request and answers the rest with 403, keeping the connection.',
    );
    writeFileSync(join(dir, 'policies.yaml'), policies(true));
    for (let i = 0; i < 50; i++) {
      r = await callFrom('shop/frontend', vip, 80, 'POST');
      if (r.status === 403) break;
    }
    say.expect(r.status === 403, `POST → ${r.status ?? r.error}`);
    r = await callFrom('shop/frontend', vip, 80, 'GET');
    say.expect(r.status === 200 && r.data === 'cart saw 127.0.0.6', `GET → ${r.status ?? r.error}`);

    say.step(
      'Upgrade the node-1 agent',
      "A new agent takes over the running one's sockets; the old one serves its open tunnel until it ends, then exits. The frontend keeps one HTTP connection open and asks every 100 ms.",
    );
    const client = spawnInPod(at('shop/frontend'), keptAliveScript(vip));
    let out = '';
    client.stdout?.on('data', (d) => {
      out += d;
    });
    await new Promise<void>((r) => client.stdout?.once('data', () => r()));
    await sleep(500);
    const gen = (await fetchStatus(sbx.state.nodes[0]!.adminSocket)).lifecycle?.generation ?? 0;
    const tUp = performance.now();
    const upgraded = sbx.restartAgent('node-1');
    let now = gen;
    while (now <= gen && performance.now() - tUp < 30_000) {
      await sleep(50);
      now =
        (await fetchStatus(sbx.state.nodes[0]!.adminSocket).catch(() => null))?.lifecycle
          ?.generation ?? now;
    }
    say.expect(
      now === gen + 1,
      `generation ${now} took over from generation ${gen}`,
      `${(performance.now() - tUp).toFixed(0)} ms from its start, Node's own start included`,
    );
    await sleep(1000);
    const exited = new Promise((r) => client.once('exit', r));
    client.kill('SIGTERM');
    await exited;
    const tally = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      ok?: number;
      failed?: number;
      connections?: number;
    };
    say.expect(
      tally.failed === 0 && tally.connections === 1 && (tally.ok ?? 0) > 0,
      `${tally.ok} requests on one connection across the upgrade, ${tally.failed} failed`,
    );
    await upgraded;
    say.expect(true, 'the old agent drained that connection and exited');

    say.step(
      'Crash the node-1 agent',
      'Its pins keep the pod enrolled, so new connections fail at once instead of leaving the mesh.',
    );
    await sbx.stopAgent('node-1');
    r = await call(vip, 80);
    say.expect(
      r.error === 'ECONNREFUSED',
      `the frontend's call failed closed with ${r.error ?? 'nothing'}`,
    );

    say.step(
      'Restart it',
      'The new agent reuses the pinned maps and links and opens its listeners again.',
    );
    const t1 = performance.now();
    await sbx.startAgent('node-1');
    r = await call(vip, 80);
    say.expect(
      r.data === 'cart saw 127.0.0.6',
      'calls go through the mesh again',
      `${(performance.now() - t1).toFixed(0)} ms from start`,
    );
    cart.kill('SIGKILL');
  } catch (e) {
    say.expect(false, `the tour stopped: ${(e as Error).message}`);
  } finally {
    say.step('Tear down', 'Every namespace, veth, cgroup, pin and process of the sandbox goes.');
    const errors = sbx ? (await sbx.down()).filter((e) => !e.startsWith('state:')) : teardown(name);
    rmSync(dir, { recursive: true, force: true });
    say.expect(errors.length === 0, 'removed everything', errors.join('; '));
  }
  process.stdout.write(
    say.failures === 0
      ? '\nAll expected outcomes seen.\n'
      : `\n${say.failures} expected outcome(s) not seen.\n`,
  );
  return say.failures === 0 ? 0 : 1;
}
