// Every agent of a Kubernetes cluster, reached from a laptop through the API
// server's pod proxy (as `kubectl get --raw` would): the agent pods are listed
// by the chart's labels, and each one's flows read from its metrics port
// (`/api/v1/namespaces/NS/pods/NAME:15020/proxy/flows?since=N`). The API server
// authenticates the user and checks `pods/proxy` (RBAC); the CLI needs no route
// to the nodes.
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { constants } from '../../tables/index.ts';
import type { Flow } from '../../telemetry/index.ts';

/** The chart's labels on the agent's pods. */
export const AGENT_SELECTOR = 'app.kubernetes.io/name=weft,app.kubernetes.io/component=agent';
/** The agent's metrics port, which also serves /flows. */
export const AGENT_PORT = constants.PORT_METRICS;
/** Bytes of one answer read at most (an agent keeps at most 5,000 flows / 4 MiB). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** Agents listed at most: a bound on what one poll costs. */
export const MAX_AGENTS = 5000;

async function apiGet(kc: KubeConfig, path: string): Promise<string> {
  const server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
  const url = new URL(server + path);
  const opts: RequestOptions = { method: 'GET', timeout: 10_000, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const tls = url.protocol === 'https:';
  if (!tls) delete opts.agent;
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_ANSWER_BYTES)
          req.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(d);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) return resolve(body);
        let why = body.trim();
        try {
          why = (JSON.parse(body) as { message?: string }).message ?? why;
        } catch {
          // not a Status: the text as it came
        }
        reject(new Error(`${server}${url.pathname}: ${res.statusCode} ${why}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new Error(`${server}${url.pathname}: ${e.message}`)));
    req.end();
  });
}

export interface FlowSource {
  /** What it is called in errors: a socket path, or namespace/pod. */
  name: string;
  flows(since: number): Promise<Flow[]>;
}

/** The agents' pods in `namespace` (running ones, with an IP), each as a flow source. */
export async function kubernetesSources(kc: KubeConfig, namespace: string): Promise<FlowSource[]> {
  const ns = encodeURIComponent(namespace);
  const list = JSON.parse(
    await apiGet(
      kc,
      `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(AGENT_SELECTOR)}&limit=${MAX_AGENTS}`,
    ),
  ) as { items: { metadata: { name: string }; status?: { phase?: string; podIP?: string } }[] };
  const pods = list.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
  if (!pods.length)
    throw new Error(
      `no running weft agent in namespace ${namespace} (pods labelled ${AGENT_SELECTOR})`,
    );
  return pods.map((p) => {
    const name = p.metadata.name;
    return {
      name: `${namespace}/${name}`,
      flows: async (since) =>
        JSON.parse(
          await apiGet(
            kc,
            `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}:${AGENT_PORT}/proxy/flows?since=${since}`,
          ),
        ) as Flow[],
    };
  });
}
