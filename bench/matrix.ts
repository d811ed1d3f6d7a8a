// The benchmark matrix: which paths (rows) are measured, in which sandbox,
// between which pods. Pure data and the manifests that create it.
import type { RowId } from './config.ts';

/** Sandboxes the rows run in; all are up at once so rounds can interleave. */
export const SANDBOXES = {
  main: { name: 'bench-tls', mtls: true, splice: false },
  plain: { name: 'bench-l4', mtls: false, splice: false },
  splice: { name: 'bench-sp', mtls: false, splice: true },
} as const;
export type SandboxKey = keyof typeof SANDBOXES;

export const PORTS = {
  /** TCP echo (round trips, connects) and sink (bulk) of the Node bench server. */
  echo: 9000,
  sink: 9001,
  /** The HTTP app (nginx answering a fixed body) in every server pod. */
  app: 8080,
  /** The server-side nginx terminating mTLS, and the client-side one on the client's loopback. */
  nginxTls: 8443,
  nginxLocal: 8081,
} as const;

export interface RowSpec {
  id: RowId;
  label: string;
  sandbox: SandboxKey;
  client: string;
  server: string;
  /** Bulk, round-trip and connect tests (raw TCP). */
  tcp: boolean;
  /** wrk against the HTTP app. */
  http: boolean;
  /** Whether the connections must go through the weft proxies (checked on every round). */
  meshed: boolean;
  /** Sent to this Service's ClusterIP (port 80) instead of the server pod: its routes apply. */
  service?: string;
  /** Whose memory the RSS column shows. */
  proxy: 'none' | 'agents' | 'nginx';
  /** The row its ratios are to; null for a baseline (direct across nodes, direct on one node). */
  baseline: RowId | null;
}

/** Rows across nodes (client on node-1, server on node-2), then on one node (both on node-1). */
export const ROWS: readonly RowSpec[] = [
  {
    id: 'direct',
    label: 'direct',
    sandbox: 'main',
    client: 'dclient',
    server: 'dremote',
    tcp: true,
    http: true,
    meshed: false,
    proxy: 'none',
    baseline: null,
  },
  {
    id: 'l4',
    label: 'weft L4 plaintext',
    sandbox: 'plain',
    client: 'client',
    server: 'remote',
    tcp: true,
    http: true,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct',
  },
  {
    id: 'mtls',
    label: 'weft mTLS L4 (HBONE)',
    sandbox: 'main',
    client: 'client',
    server: 'remote',
    tcp: true,
    http: true,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct',
  },
  {
    id: 'l7',
    label: 'weft mTLS + L7 policy',
    sandbox: 'main',
    client: 'client',
    server: 'remote7',
    tcp: false,
    http: true,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct',
  },
  {
    id: 'l7-route',
    label: 'weft mTLS + HTTPRoute + L7 policy',
    sandbox: 'main',
    client: 'client',
    server: 'remote7',
    service: 'l7',
    tcp: false,
    http: true,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct',
  },
  {
    id: 'nginx',
    label: 'nginx mTLS proxy pair',
    sandbox: 'main',
    client: 'dclient',
    server: 'dremote',
    tcp: false,
    http: true,
    meshed: false,
    proxy: 'nginx',
    baseline: 'direct',
  },
  {
    id: 'splice',
    label: 'weft L4 plaintext + splice',
    sandbox: 'splice',
    client: 'client',
    server: 'remote',
    tcp: true,
    http: false,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct',
  },
  {
    id: 'direct-node',
    label: 'direct, same node',
    sandbox: 'main',
    client: 'dclient',
    server: 'dlocal',
    tcp: true,
    http: false,
    meshed: false,
    proxy: 'none',
    baseline: null,
  },
  {
    id: 'l4-node',
    label: 'weft L4 plaintext, same node',
    sandbox: 'plain',
    client: 'client',
    server: 'local',
    tcp: true,
    http: false,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct-node',
  },
  {
    id: 'mtls-node',
    label: 'weft mTLS, same node (in-process hand-off)',
    sandbox: 'main',
    client: 'client',
    server: 'local',
    tcp: true,
    http: false,
    meshed: true,
    proxy: 'agents',
    baseline: 'direct-node',
  },
];

/** The rows asked for, with the baselines their ratios need. */
export function selectRows(only: readonly RowId[] | null): RowSpec[] {
  if (!only) return [...ROWS];
  const want = new Set<RowId>(only);
  for (const r of ROWS) if (want.has(r.id) && r.baseline) want.add(r.baseline);
  return ROWS.filter((r) => want.has(r.id));
}

export function sandboxesFor(rows: readonly RowSpec[]): SandboxKey[] {
  return (Object.keys(SANDBOXES) as SandboxKey[]).filter((k) => rows.some((r) => r.sandbox === k));
}

/** Pods that run servers (TCP bench server and the HTTP app) in a sandbox. */
export function serverPods(key: SandboxKey): string[] {
  return key === 'main' ? ['remote', 'remote7', 'dremote', 'local', 'dlocal'] : ['remote', 'local'];
}

const pod = (name: string, node: string, labels: Record<string, string>, sa = 'default') => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: bench
  labels: {${Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}
spec: {nodeName: ${node}, serviceAccountName: ${sa}, containers: [{name: app, ports: [{containerPort: ${PORTS.app}}]}]}
`;

/**
 * The pods of a sandbox. The main one also holds the direct pair (opted out of
 * the mesh, so direct and nginx share the sandbox with the meshed rows) and
 * remote7, whose AuthorizationPolicy has HTTP fields: that makes its inbound
 * proxy parse every request (GET from the client's identity allowed, all else 403).
 */
export function benchManifests(key: SandboxKey): string {
  const docs = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {weft.dev/mesh: enabled}}\n',
    pod('client', 'node-1', { app: 'client' }, 'client'),
    pod('remote', 'node-2', { app: 'remote' }),
    pod('local', 'node-1', { app: 'local' }),
  ];
  if (key === 'main') {
    docs.push(
      pod('remote7', 'node-2', { app: 'l7' }),
      pod('dclient', 'node-1', { app: 'dclient', 'weft.dev/mesh': 'disabled' }),
      pod('dremote', 'node-2', { app: 'dremote', 'weft.dev/mesh': 'disabled' }),
      pod('dlocal', 'node-1', { app: 'dlocal', 'weft.dev/mesh': 'disabled' }),
      `
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: l7-reads, namespace: bench}
spec:
  selector: {matchLabels: {app: l7}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/bench/sa/client"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/*"]}}]
`,
      // The same pod behind a Service with a route: the client's node proxy routes each
      // request (the L7 engine), the server's authorizes it.
      `
apiVersion: v1
kind: Service
metadata: {name: l7, namespace: bench}
spec:
  selector: {app: l7}
  ports: [{name: http, port: 80, targetPort: ${PORTS.app}, appProtocol: http}]
`,
      `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: l7, namespace: bench}
spec:
  parentRefs: [{group: "", kind: Service, name: l7, port: 80}]
  rules:
    - backendRefs: [{name: l7, port: 80}]
`,
    );
  }
  return docs.join('---\n');
}
