// The manifests most sandbox tests start from: an enrolled namespace with a
// client on node-1 and a server (and its Service) on node-2, and a pod outside
// the mesh on node-1.
export const namespaces = (shopEnrolled: boolean) => `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    ${shopEnrolled ? 'weft.dev/mesh: enabled' : 'team: shop'}
---
apiVersion: v1
kind: Namespace
metadata:
  name: outside
`;

export const workloads = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  nodeName: node-1
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: shop, labels: {app: server}}
spec:
  nodeName: node-2
  containers: [{name: s, ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: outside}
spec:
  nodeName: node-1
  containers: [{name: p}]
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: shop}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: http}]
`;

/** A Namespace document; `labels` as YAML flow pairs, e.g. `weft.dev/mesh: enabled`. */
export const namespace = (name: string, labels = '') =>
  `apiVersion: v1
kind: Namespace
metadata: {name: ${name}${labels ? `, labels: {${labels}}` : ''}}
`;

/** A Pod document placed on `node`; its app label is its name unless `labels` says otherwise. */
export function pod(
  ns: string,
  name: string,
  node: string,
  o: { sa?: string; labels?: string; ports?: string } = {},
): string {
  const sa = o.sa ? `serviceAccountName: ${o.sa}, ` : '';
  const ports = o.ports ? `, ports: [${o.ports}]` : '';
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {${o.labels ?? `app: ${name}`}}}
spec: {nodeName: ${node}, ${sa}containers: [{name: c${ports}}]}
`;
}

/** Documents as one multi-document YAML text. */
export const docs = (...d: string[]) => d.join('---\n');
