// A real Prometheus (Debian's package) inside the sandbox's network scrapes both
// agents on their node addresses (10.250.<i>.2:15020), and PromQL answers
// exactly what crossed the mesh: TCP connections and bytes per source and
// destination workload by both reporters, and HTTP requests by response code
// with workloads, principals and mutual_tls.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GraphEdge } from '../../../agent/src/cli/commands/graph.ts';
import { formatTable } from '../../../agent/src/cli/graph/format.ts';
import { formatSvg } from '../../../agent/src/cli/graph/svg.ts';
import { repoRoot } from '../../../agent/src/datapath/native.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { netnsPath } from '../../../agent/src/sandbox/host.ts';
import { sandboxLayout } from '../../../agent/src/sandbox/layout/topology.ts';
import type { Flow } from '../../../agent/src/telemetry/flows.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import { until } from '../../support/until.ts';

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1', { sa: 'client' }),
  pod('shop', 'server', 'node-2', { sa: 'server', ports: '{containerPort: 8080}' }),
  pod('shop', 'web', 'node-2', { sa: 'web', ports: '{containerPort: 8081}' }),
  pod('shop', 'rpc', 'node-2', { sa: 'rpc', ports: '{containerPort: 9090}' }),
  `apiVersion: v1
kind: Service
metadata: {name: server, namespace: shop}
spec: {selector: {app: server}, ports: [{port: 80, targetPort: 8080}]}
`,
  // Its port 80 is read as HTTP: the client's node sends it through the L7 engine.
  `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8081, appProtocol: http}]}
`,
  `apiVersion: v1
kind: Service
metadata: {name: rpc, namespace: shop}
spec: {selector: {app: rpc}, ports: [{port: 90, targetPort: 9090, appProtocol: grpc}]}
`,
  // HTTP rules on web:8081 put it on the L7 path (per-request authorization, metrics).
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-paths, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {ports: ["8081"], paths: ["/ok", "/fail"]}}]
`,
  // And on rpc:9090: its HTTP/2 streams are authorized (and reported) one by one.
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: rpc-methods, namespace: shop}
spec:
  selector: {matchLabels: {app: rpc}}
  action: ALLOW
  rules:
  - to: [{operation: {ports: ["9090"], paths: ["/shop.Rpc/*"]}}]
`,
);

// 200 on /ok, 503 on anything else the policy lets through.
const webServer = `
import http from 'node:http';
http.createServer((req, res) => { res.writeHead(req.url === '/ok' ? 200 : 503); res.end('body'); })
  .listen(8081, '0.0.0.0', () => console.log('listening'));
`;

// gRPC over h2c: grpc-status 0 for /shop.Rpc/Ok, 5 (NOT_FOUND) for anything else.
const rpcServer = `
import http2 from 'node:http2';
http2.createServer().on('stream', (s, h) => {
  s.resume();
  s.on('end', () => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': h[':path'] === '/shop.Rpc/Ok' ? '0' : '5' }));
    s.end(Buffer.alloc(5));
  });
}).listen(9090, '0.0.0.0', () => console.log('listening'));
`;

const calls = (host: string, paths: string[]) => `
import http2 from 'node:http2';
const s = http2.connect('http://${host}:90');
const statuses = [];
for (const p of ${JSON.stringify(paths)}) {
  statuses.push(await new Promise((resolve, reject) => {
    const r = s.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers' });
    r.on('trailers', (t) => resolve(Number(t['grpc-status'])));
    r.on('error', reject);
    r.resume();
    r.end(Buffer.alloc(5));
  }));
}
s.close();
console.log(JSON.stringify({ statuses }));
`;

const gets = (host: string, paths: string[], port = 8081) => `
const codes = [];
for (const p of ${JSON.stringify(paths)}) {
  const r = await fetch('http://${host}:${port}' + p);
  await r.text();
  codes.push(r.status);
}
console.log(JSON.stringify({ codes }));
`;

const TCP = 3;
const OK = 4;
const FAIL = 2;
const DENIED = 1;

describePrivileged('Istio metrics scraped by a real Prometheus', () => {
  let c: TestCluster;
  let prom: ChildProcess | undefined;
  let dir: string;
  let underlay: string;

  const query = (q: string): { metric: Record<string, string>; value: [number, string] }[] => {
    const r = spawnSync(
      'nsenter',
      [
        `--net=${underlay}`,
        'curl',
        '-sf',
        '--get',
        '--data-urlencode',
        `query=${q}`,
        'http://127.0.0.1:9090/api/v1/query',
      ],
      { encoding: 'utf8', timeout: 5000 },
    );
    if (r.status !== 0) return [];
    return JSON.parse(r.stdout).data.result;
  };
  /** Polls a query until its answer, as `{labels...} value` lines, equals want. */
  const answers = async (q: string, want: string[]): Promise<string[]> => {
    let got: string[] = [];
    for (let i = 0; i < 150; i++) {
      got = query(q)
        .map((s) => `${JSON.stringify(s.metric)} ${s.value[1]}`)
        .sort();
      if (JSON.stringify(got) === JSON.stringify([...want].sort())) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return got;
  };

  beforeAll(async () => {
    // Each agent's stdout (the access log) goes to its node's log file.
    c = await testCluster('m', { 'cluster.yaml': cluster }, 2, {
      agentArgs: ['--access-log', 'stdout'],
    });
    await c.serve('shop/server', sinkServer(8080));
    await c.serve('shop/web', webServer);
    await c.serve('shop/rpc', rpcServer);
    await c.certificates(4);
    dir = mkdtempSync(join(tmpdir(), 'weft-prometheus-'));
    const targets = c.sandbox.state.nodes.map((n) => `'10.250.${n.index}.2:15020'`).join(', ');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: weft
  scrape_interval: 1s
  static_configs: [{targets: [${targets}]}]
`,
    );
    underlay = netnsPath(sandboxLayout(c.sandbox.state.name).underlayNetns);
    prom = spawn(
      'nsenter',
      [
        `--net=${underlay}`,
        'prometheus',
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        '--web.listen-address=127.0.0.1:9090',
      ],
      { stdio: 'ignore' },
    );
  }, 60_000);
  afterAll(async () => {
    if (prom?.pid) {
      prom.kill('SIGKILL');
      await new Promise((r) => prom!.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(await c?.down()).toEqual([]);
  });

  it('scrapes both agents', async () => {
    expect(
      await answers('sum by (instance) (up{job="weft"})', [
        '{"instance":"10.250.1.2:15020"} 1',
        '{"instance":"10.250.2.2:15020"} 1',
      ]),
    ).toEqual(['{"instance":"10.250.1.2:15020"} 1', '{"instance":"10.250.2.2:15020"} 1']);
  }, 40_000);

  it('counts TCP connections and bytes per source and destination workload, by both reporters', async () => {
    const vip = c.sandbox.state.services['shop/server']!;
    for (let i = 0; i < TCP; i++) {
      const r = lastJson<TransferResult>(
        await runInPod(c.pod('shop/client'), transferClient(vip, 80, 1000)),
      );
      expect(r.reply?.bytes).toBe(1000);
    }
    const opened = `sum by (reporter, source_workload, source_workload_namespace, destination_workload, connection_security_policy) (istio_tcp_connections_opened_total{destination_workload="server"})`;
    const labels = (reporter: string) =>
      JSON.stringify({
        connection_security_policy: 'mutual_tls',
        destination_workload: 'server',
        reporter,
        source_workload: 'client',
        source_workload_namespace: 'shop',
      });
    const want = [`${labels('destination')} ${TCP}`, `${labels('source')} ${TCP}`];
    expect(await answers(opened, want)).toEqual(want);
    const closed = `sum by (reporter) (istio_tcp_connections_closed_total{destination_workload="server", source_workload="client"})`;
    expect(
      await answers(closed, [`{"reporter":"destination"} ${TCP}`, `{"reporter":"source"} ${TCP}`]),
    ).toEqual([`{"reporter":"destination"} ${TCP}`, `{"reporter":"source"} ${TCP}`]);
    // What the client sent, as both proxies counted it; the source's side knew the Service.
    const received = `sum by (reporter) (istio_tcp_received_bytes_total{destination_workload="server"})`;
    expect(
      await answers(received, [
        `{"reporter":"destination"} ${TCP * 1000}`,
        `{"reporter":"source"} ${TCP * 1000}`,
      ]),
    ).toEqual([`{"reporter":"destination"} ${TCP * 1000}`, `{"reporter":"source"} ${TCP * 1000}`]);
    const svc = query(
      `sum by (destination_service) (istio_tcp_connections_opened_total{reporter="source", destination_workload="server"})`,
    ).map((s) => s.metric.destination_service);
    expect(svc).toEqual(['server.shop.svc.cluster.local']);
    expect(
      Number(
        query(`sum(istio_tcp_sent_bytes_total{destination_workload="server"})`)[0]?.value[1] ?? 0,
      ),
    ).toBeGreaterThan(0);
  }, 60_000);

  it('counts HTTP requests by response code, with workloads, principals and mutual_tls', async () => {
    const paths = [
      ...Array(OK).fill('/ok'),
      ...Array(FAIL).fill('/fail'),
      ...Array(DENIED).fill('/admin'),
    ];
    const r = lastJson<{ codes: number[] }>(
      await runInPod(c.pod('shop/client'), gets(c.pod('shop/web').ip, paths)),
    );
    expect(r.codes).toEqual([...Array(OK).fill(200), ...Array(FAIL).fill(503), 403]);
    const q = `sum by (response_code, response_flags) (istio_requests_total{reporter="destination", source_workload="client", source_workload_namespace="shop", source_principal="spiffe://cluster.local/ns/shop/sa/client", destination_workload="web", destination_principal="spiffe://cluster.local/ns/shop/sa/web", connection_security_policy="mutual_tls", request_protocol="http"})`;
    const want = [
      `{"response_code":"200","response_flags":"-"} ${OK}`,
      `{"response_code":"403","response_flags":"policy"} ${DENIED}`,
      `{"response_code":"503","response_flags":"-"} ${FAIL}`,
    ];
    expect(await answers(q, want)).toEqual(want);
    const count = `sum(istio_request_duration_milliseconds_count{destination_workload="web"})`;
    expect(await answers(count, [`{} ${OK + FAIL + DENIED}`])).toEqual([
      `{} ${OK + FAIL + DENIED}`,
    ]);
  }, 60_000);

  it('writes one JSON access log line per request and per connection on stdout', async () => {
    const lines = () =>
      readFileSync(c.sandbox.state.nodes[1]!.log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"start_time"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await until(
      'the access log lines',
      () => lines().filter((l) => l.method).length >= OK + FAIL + DENIED,
      20_000,
    ).catch(() => {});
    const requests = lines().filter((l) => l.method);
    expect(requests.map((l) => `${l.path} ${l.response_code}`).sort()).toEqual(
      [
        ...Array(OK).fill('/ok 200'),
        ...Array(FAIL).fill('/fail 503'),
        ...Array(DENIED).fill('/admin 403'),
      ].sort(),
    );
    expect(requests[0]).toMatchObject({
      reporter: 'destination',
      source_workload: 'shop/client',
      source_principal: 'spiffe://cluster.local/ns/shop/sa/client',
      destination_workload: 'shop/web',
      connection_security_policy: 'mutual_tls',
    });
    const tcp = lines().filter(
      (l) => l.protocol === 'TCP' && l.destination_workload === 'shop/server',
    );
    expect(tcp).toHaveLength(TCP);
    expect(tcp.every((l) => l.bytes_received === 1000 && l.response_flags === '-')).toBe(true);
  }, 30_000);

  it('counts the source side of HTTP requests sent to a Service port read as HTTP', async () => {
    const vip = c.sandbox.state.services['shop/web']!;
    const r = lastJson<{ codes: number[] }>(
      await runInPod(c.pod('shop/client'), gets(vip, ['/ok', '/ok', '/ok', '/fail'], 80)),
    );
    expect(r.codes).toEqual([200, 200, 200, 503]);
    const q = `sum by (response_code, destination_service, destination_workload, destination_principal, source_principal, connection_security_policy) (istio_requests_total{reporter="source", source_workload="client", source_workload_namespace="shop", request_protocol="http"})`;
    const labels = (code: number) =>
      JSON.stringify({
        connection_security_policy: 'mutual_tls',
        destination_principal: 'spiffe://cluster.local/ns/shop/sa/web',
        destination_service: 'web.shop.svc.cluster.local',
        destination_workload: 'web',
        response_code: String(code),
        source_principal: 'spiffe://cluster.local/ns/shop/sa/client',
      });
    const want = [`${labels(200)} 3`, `${labels(503)} 1`];
    expect(await answers(q, want)).toEqual(want);
    // The server's node saw them too (after the earlier test's), from the same client.
    const dst = `sum(istio_requests_total{reporter="destination", source_workload="client", destination_workload="web", request_protocol="http"})`;
    const all = `{} ${OK + FAIL + DENIED + 4}`;
    expect(await answers(dst, [all])).toEqual([all]);
  }, 90_000);

  it('counts the source side of gRPC calls with grpc_response_status', async () => {
    const vip = c.sandbox.state.services['shop/rpc']!;
    const r = lastJson<{ statuses: number[] }>(
      await runInPod(
        c.pod('shop/client'),
        calls(vip, ['/shop.Rpc/Ok', '/shop.Rpc/Ok', '/shop.Rpc/Missing']),
      ),
    );
    expect(r.statuses).toEqual([0, 0, 5]);
    const q = `sum by (response_code, grpc_response_status, destination_service_name, destination_principal, connection_security_policy) (istio_requests_total{reporter="source", request_protocol="grpc", source_workload="client", destination_workload="rpc"})`;
    const labels = (grpc: string) =>
      JSON.stringify({
        connection_security_policy: 'mutual_tls',
        destination_principal: 'spiffe://cluster.local/ns/shop/sa/rpc',
        destination_service_name: 'rpc',
        grpc_response_status: grpc,
        response_code: '200',
      });
    const want = [`${labels('0')} 2`, `${labels('5')} 1`];
    expect(await answers(q, want)).toEqual(want);
    // The server's node, authorizing each stream, reports them with the client's identity.
    const dst = `sum by (grpc_response_status, source_workload, source_principal) (istio_requests_total{reporter="destination", request_protocol="grpc", destination_workload="rpc"})`;
    const from = (grpc: string) =>
      JSON.stringify({
        grpc_response_status: grpc,
        source_principal: 'spiffe://cluster.local/ns/shop/sa/client',
        source_workload: 'client',
      });
    const wantDst = [`${from('0')} 2`, `${from('5')} 1`];
    expect(await answers(dst, wantDst)).toEqual(wantDst);
  }, 90_000);

  it('weft graph draws who talks to whom across both nodes, from their metrics', async () => {
    const weft = (args: string[], net?: string) =>
      spawnSync(
        net ? 'nsenter' : `${repoRoot}bin/weft`,
        net ? [`--net=${net}`, `${repoRoot}bin/weft`, ...args] : args,
        { encoding: 'utf8', timeout: 30_000 },
      );
    const graph = (format: string, window = '0') =>
      weft(['graph', '--sandbox', c.sandbox.state.name, '--window', window, '-o', format]);
    const r = graph('json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const edges = JSON.parse(r.stdout) as GraphEdge[];
    const edge = (es: GraphEdge[], to: string) =>
      es.find((e) => e.source === 'shop/client' && e.destination === to);
    // Plain TCP to the server's Service: connections, no requests.
    expect(edge(edges, 'shop/server')).toMatchObject({
      service: 'shop/server',
      requests: 0,
      connections: TCP,
      mtls: true,
      requestsPerS: null,
    });
    // HTTP to web, to its pod and through its Service: the 503s and the refused one are errors.
    expect(edge(edges, 'shop/web')).toMatchObject({
      service: 'shop/web',
      requests: OK + FAIL + DENIED + 4,
      errors: FAIL + DENIED + 1,
      mtls: true,
    });
    const table = graph('table').stdout.split('\n');
    expect(table[0]).toMatch(
      /^SOURCE\s+DESTINATION\s+SERVICE\s+REQUESTS\s+ERRORS\s+CONNECTIONS\s+MTLS$/,
    );
    expect(table).toContainEqual(
      expect.stringMatching(/^shop\/client\s+shop\/web\s+shop\/web\s+11\s+4\s+\d+\s+yes$/),
    );
    expect(graph('dot').stdout).toContain('"shop/client" -> "shop/server"');
    expect(graph('mermaid').stdout).toMatch(/-->\|"via shop\/web<br\/>11 req, 4 err/);
    expect(graph('svg').stdout).toContain('>shop/client</text>');

    // Rates: two scrapes 8 s apart, with 10 requests (2 failing) between them (the
    // command's first scrape is within 3.5 s of its start, even on a loaded machine).
    const rated = spawn(
      `${repoRoot}bin/weft`,
      ['graph', '--sandbox', c.sandbox.state.name, '--window', '8', '-o', 'json'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    rated.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise((res) => rated.once('exit', res));
    await new Promise((res) => setTimeout(res, 3500));
    const burst = lastJson<{ codes: number[] }>(
      await runInPod(
        c.pod('shop/client'),
        gets(c.pod('shop/web').ip, [...Array(8).fill('/ok'), '/fail', '/fail']),
      ),
    );
    expect(burst.codes.filter((x) => x === 200)).toHaveLength(8);
    await exited;
    const ratedEdges = JSON.parse(out) as GraphEdge[];
    // docs/graph.svg is this graph: WEFT_GRAPH_SVG=docs/graph.svg when running this file.
    if (process.env.WEFT_GRAPH_SVG) {
      writeFileSync(process.env.WEFT_GRAPH_SVG, formatSvg(ratedEdges, 'weft graph --window 8'));
      console.log(formatTable(ratedEdges));
    }
    const web = edge(ratedEdges, 'shop/web')!;
    expect(Math.round(web.requestsPerS! * 8)).toBe(10);
    expect(web.errorRatio).toBeCloseTo(0.2);
    expect(web.p99Ms).toBeGreaterThan(0);

    // --watch: a graph every second, rates over the second before; --count ends it.
    const watched = weft([
      'graph',
      '--sandbox',
      c.sandbox.state.name,
      '--watch',
      '1',
      '--count',
      '2',
      '-o',
      'json',
    ]);
    expect(watched.status).toBe(0);
    const frames = watched.stdout.trim().split('\n').filter(Boolean);
    expect(frames).toHaveLength(2);
    expect(edge(JSON.parse(frames[1]!) as GraphEdge[], 'shop/web')?.requestsPerS).toBe(0);

    // From the Prometheus server instead: PromQL's increase over the window.
    const fromProm = weft(
      ['graph', '--prometheus', 'http://127.0.0.1:9090', '--window', '300', '-o', 'json'],
      underlay,
    );
    expect(fromProm.stderr).toBe('');
    const p = edge(JSON.parse(fromProm.stdout) as GraphEdge[], 'shop/web')!;
    expect(p).toMatchObject({ service: 'shop/web', mtls: true });
    expect(p.requestsPerS).toBeGreaterThan(0);
    // Its p99 is what histogram_quantile says of the same buckets.
    const q = query(
      'histogram_quantile(0.99, sum by (le) (increase(istio_request_duration_milliseconds_bucket{reporter="destination", source_workload="client", destination_workload="web"}[300s])))',
    );
    expect(p.p99Ms! / Number(q[0]!.value[1])).toBeCloseTo(1, 1);
    const bad = weft(['graph', '--prometheus', 'http://127.0.0.1:1', '--window', '60']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('no Prometheus answers at http://127.0.0.1:1');
  }, 60_000);

  it('weft observe shows each carried connection when it opens and when it ends, on both nodes', () => {
    const r = spawnSync(
      `${repoRoot}bin/weft`,
      ['observe', '--sandbox', c.sandbox.state.name, '--to', 'shop/server', '-o', 'json'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(0);
    const flows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Flow)
      .filter((f) => f.source === 'shop/client' && f.port === 8080);
    const count = (event: string, node: string) =>
      flows.filter((f) => f.event === event && f.node === node).length;
    // The TCP test's connections: opened and ended, by the client's node and by the server's.
    expect([count('open', 'node-1'), count('end', 'node-1')]).toEqual([TCP, TCP]);
    expect([count('open', 'node-2'), count('end', 'node-2')]).toEqual([TCP, TCP]);
    const open = flows.find((f) => f.event === 'open' && f.node === 'node-2');
    expect(open).toMatchObject({
      verdict: 'allow',
      reason: 'opened',
      identity: 'spiffe://cluster.local/ns/shop/sa/client',
    });
    // Each connection's open comes before its end.
    expect(flows.findIndex((f) => f.event === 'open')).toBeLessThan(
      flows.findIndex((f) => f.event === 'end'),
    );
    // Exact filters, the last two, as YAML: the server's node's view of the last connection.
    const y = spawnSync(
      `${repoRoot}bin/weft`,
      [
        'observe',
        '--sandbox',
        c.sandbox.state.name,
        '--from-pod',
        'shop/client',
        '--to-pod',
        'shop/server',
        '--since',
        '10m',
        '--last',
        '2',
        '-o',
        'yaml',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(y.stderr).toBe('');
    const docs = y.stdout.split(/^---$/m).filter((d) => d.trim());
    expect(docs).toHaveLength(2);
    expect(docs.every((d) => /\nsource: shop\/client\ndestination: shop\/server\n/.test(d))).toBe(
      true,
    );
    expect(docs[1]).toMatch(/\nevent: end\n/);
  });
});
