// The newest end-to-end flow, until the shop demo lands: a 2-node sandbox, a
// client and a server on different nodes, enrolled live without a restart,
// traffic through both node proxies, weft status, an agent crash that fails
// closed, its recovery, and a clean teardown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Flow } from '../agent/flows.ts';
import { formatStatus } from '../agent/status.ts';
import { formatFlow } from '../cli/commands/observe.ts';
import { fetchAccessLog, fetchStatus } from '../cli/commands/status.ts';
import { lastJson, runInPod, spawnInPod } from '../sandbox/exec.ts';
import { Sandbox, teardown } from '../sandbox/sandbox.ts';
import { Narrator } from './output.ts';

const namespaces = (enrolled: boolean) => `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {${enrolled ? 'weft.dev/mesh: enabled' : ''}}
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
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{port: 80, targetPort: http}]
`;

// The cart answers with who it saw: a proxied connection arrives from 127.0.0.6.
const cartServer = `
import net from 'node:net';
net.createServer((s) => s.end('cart saw ' + s.remoteAddress)).listen(8080, '0.0.0.0', () => console.log('listening'));
`;
const frontendCall = (host: string, port: number) => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: ${port} });
s.setTimeout(5000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
let peer;
s.on('connect', () => { peer = s.remoteAddress + ':' + s.remotePort; });
let data = '';
s.on('data', (d) => { data += d; });
s.on('end', () => console.log(JSON.stringify({ peer, data })));
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
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
    const call = async (host: string, port: number) =>
      lastJson<{ peer?: string; data?: string; error?: string }>(
        await runInPod(at('shop/frontend'), frontendCall(host, port)),
      );

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
      hop?.source === 'spiffe://cluster.local/ns/shop/sa/frontend',
      "cart's node saw the frontend's identity over HBONE (HTTP/2 CONNECT, TLS 1.3)",
      hop ? `${hop.source} → ${hop.destination}` : 'no HBONE entry',
    );

    say.step('Ask node-1 what it enrolled', 'weft status --sandbox NAME --node node-1');
    const st = await fetchStatus(sbx.state.nodes[0]!.adminSocket);
    for (const line of formatStatus(st).trimEnd().split('\n')) say.info(line);
    say.expect(st.proxy.outbound.accepted > 0, 'node-1 proxy counted the outbound connection');

    say.step(
      'Watch the flows',
      'weft observe --sandbox NAME: every verdict the nodes made, with where and why.',
    );
    const flows = (await Promise.all(sbx.state.nodes.map((n) => getFlows(n.adminSocket))))
      .flat()
      .sort((a, b) => (a.time < b.time ? -1 : 1));
    for (const f of flows.slice(-6)) say.info(formatFlow(f));
    say.expect(
      flows.some((f) => f.where === 'proxy inbound (hbone)' && f.verdict === 'allow'),
      'the frontend → cart call shows as an allowed HBONE flow',
    );

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

function getFlows(socketPath: string): Promise<Flow[]> {
  return new Promise((resolve, reject) => {
    import('node:http').then(({ request }) => {
      request({ socketPath, path: '/flows' }, (res) => {
        let b = '';
        res.on('data', (d) => {
          b += d;
        });
        res.on('end', () => resolve(JSON.parse(b) as Flow[]));
      })
        .on('error', reject)
        .end();
    }, reject);
  });
}
