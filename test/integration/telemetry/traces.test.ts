// One request across two sandbox nodes gives one trace at a local OTLP
// receiver: the client's node (the L7 engine, on a Service port read as HTTP)
// sends a CLIENT span whose parent is the app's span from its traceparent; the
// server's node (the port has HTTP authorization rules) sends a SERVER span
// whose parent is that CLIENT span; the app behind it is handed a traceparent
// naming the SERVER span. The receiver listens in the sandbox's own underlay
// network (on node-1's router address), where both agents reach it and nothing
// leaves the machine; the agents get the standard OTEL_* variables.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { native } from '../../../agent/src/datapath/index.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { netnsPath } from '../../../agent/src/sandbox/host.ts';
import { sandboxLayout } from '../../../agent/src/sandbox/layout/topology.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1', { sa: 'client' }),
  pod('shop', 'web', 'node-2', { sa: 'web', ports: '{containerPort: 8081}' }),
  `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8081, appProtocol: http}]}
`,
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-paths, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {ports: ["8081"], paths: ["/orders"]}}]
`,
);

// Answers with the traceparent the app was handed.
const webServer = `
import http from 'node:http';
http.createServer((req, res) => res.end(String(req.headers.traceparent ?? '')))
  .listen(8081, '0.0.0.0', () => console.log('listening'));
`;

const get = (host: string, traceparent: string) => `
const r = await fetch('http://${host}/orders', { headers: { traceparent: '${traceparent}' } });
console.log(JSON.stringify({ status: r.status, handed: await r.text() }));
`;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

const RECEIVER = '10.250.1.1';
const PORT = 4318;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const APP_SPAN = '00f067aa0ba902b7';

describePrivileged('traces of one request across two nodes', () => {
  let c: TestCluster;
  let receiver: Server | undefined;
  const spans: OtlpSpan[] = [];
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

  beforeAll(async () => {
    // The sandbox's underlay namespace exists once it is up; the agents read the
    // variable when they start, so the receiver's address is fixed beforehand.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://${RECEIVER}:${PORT}`;
    try {
      c = await testCluster('o', { 'cluster.yaml': cluster }, 2);
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    }
    const fd = native().netnsSocket(netnsPath(sandboxLayout(c.sandbox.state.name).underlayNetns), {
      family: 4,
      address: RECEIVER,
      port: PORT,
      backlog: 64,
      reuseAddr: true,
    });
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver!.listen({ fd }, r));
    await c.serve('shop/web', webServer);
    await c.certificates(2);
  }, 60_000);
  afterAll(async () => {
    receiver?.close();
    expect(await c?.down()).toEqual([]);
  });

  it("links the app's span, the client node's span and the server node's span in one trace", async () => {
    const vip = c.sandbox.state.services['shop/web']!;
    const r = lastJson<{ status: number; handed: string }>(
      await runInPod(c.pod('shop/client'), get(vip, `00-${TRACE}-${APP_SPAN}-01`)),
    );
    expect(r.status).toBe(200);
    // What the app behind the server's proxy was handed: the caller's trace, a new parent.
    const handed = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(r.handed);
    expect(handed?.[1]).toBe(TRACE);
    const serverSpanId = handed![2]!;
    // The batch processor sends every second.
    for (let i = 0; i < 100 && spans.filter((s) => s.traceId === TRACE).length < 2; i++)
      await new Promise((res) => setTimeout(res, 100));
    const trace = spans.filter((s) => s.traceId === TRACE);
    expect(trace).toHaveLength(2);
    const attr = (s: OtlpSpan, k: string) =>
      s.attributes.find((a) => a.key === k)?.value.stringValue;
    const server = trace.find((s) => s.spanId === serverSpanId)!;
    expect(server).toMatchObject({ kind: 2, name: `GET ${vip}/orders` }); // SERVER
    expect(attr(server, 'weft.node')).toBe('node-2');
    expect(attr(server, 'weft.source.principal')).toBe('spiffe://cluster.local/ns/shop/sa/client');
    const client = trace.find((s) => s.spanId === server.parentSpanId)!;
    expect(client).toMatchObject({ kind: 3, parentSpanId: APP_SPAN }); // CLIENT
    expect(attr(client, 'weft.node')).toBe('node-1');
    expect(attr(client, 'weft.destination.workload')).toBe('shop/web');
  }, 30_000);
});
