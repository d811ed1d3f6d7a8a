// Clusters with routes for the route compiler's and evaluator's tests, written as
// manifests and read through the agent's own parser and merge.
import { LastGood } from '../../../agent/src/sources/manifests/merge.ts';
import { parseManifestFile } from '../../../agent/src/sources/manifests/parse.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';

export function cluster(yaml: string): Snapshot {
  const parsed = parseManifestFile('test.yaml', yaml);
  if (parsed.errors.length) throw new Error(JSON.stringify(parsed.errors, null, 2));
  return new LastGood().apply(new Map([['test.yaml', parsed]])).snapshot;
}

/** A Service `name` in `ns` with one pod per ip behind it, on `port` → 8080. */
export function service(
  ns: string,
  name: string,
  ip: string,
  pods: readonly string[],
  port: { port?: number; name?: string; appProtocol?: string } = {},
): string {
  const p = port.port ?? 80;
  const docs = [
    `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  clusterIP: ${ip}
  selector: { app: ${name} }
  ports: [{ port: ${p}, targetPort: 8080${port.name ? `, name: ${port.name}` : ''}${port.appProtocol ? `, appProtocol: ${port.appProtocol}` : ''} }]
`,
  ];
  pods.forEach((podIP, i) => {
    docs.push(`apiVersion: v1
kind: Pod
metadata: { name: ${name}-${i}, namespace: ${ns}, labels: { app: ${name} } }
spec: { nodeName: n1, containers: [{ name: c, ports: [{ containerPort: 8080 }] }] }
status: { podIP: ${podIP} }
`);
  });
  return docs.join('---\n');
}

export function httpRoute(ns: string, name: string, spec: string, created?: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${ns}${created ? `, creationTimestamp: "${created}"` : ''} }
spec:
${spec}`;
}
