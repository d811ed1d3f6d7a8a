// weft graph: the service graph, who talks to whom, from the Istio metrics every
// node's agent keeps (its admin API's /metrics) or from a Prometheus server that
// scrapes them: one edge per source and destination workload, with the Service
// it was sent to, totals, rates, error ratio, p99 and whether it was mutual TLS.

import { adminText } from '../../admin/index.ts';
import { ADMIN_SOCKET } from '../../config/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import { parse, secondsOption, UsageError } from '../args.ts';
import { type GraphEdge, graphBetween, parseScrape, type Scrape } from '../graph/edges.ts';
import { formatDot, formatMermaid, formatTable } from '../graph/format.ts';
import { prometheusEdges } from '../graph/prometheus.ts';
import { formatSvg } from '../graph/svg.ts';

export type { GraphEdge } from '../graph/edges.ts';

export const help = `Usage: weft graph [--sandbox NAME | --admin-socket PATH... | --prometheus URL]
                  [--window SECONDS] [--watch SECONDS [--count N]] [-o table|json|dot|mermaid|svg]

Shows who talks to whom across the nodes, from each agent's Istio metrics
(istio_requests_total, istio_request_duration_milliseconds, istio_tcp_*): one
edge per source and destination workload, with the Service it was sent to, the
requests and how many failed (5xx, a gRPC status other than OK, or
refused by weft), the TCP connections, and
whether the traffic was mutual TLS; and over the window, requests/s, the error
ratio, the p99 duration, and TCP bytes/s and connections/s. Each side of a
request is counted by both nodes' proxies (reporter source and destination); an
edge shows the larger.

Rates from the agents take two scrapes: the agents are read, then read again
--window seconds later, and each counter's growth is divided by the seconds in
between (p99 from the duration buckets' growth). From Prometheus they are
PromQL's increase() over the window.

Options:
  --sandbox NAME          ask every node of a running sandbox
  --admin-socket PATH     ask this agent (repeatable; default ${ADMIN_SOCKET})
  --prometheus URL        ask this Prometheus server (its HTTP API) instead of the agents
  --window SECONDS        the window rates are taken over (agents: default 5, 0 for totals
                          only at once; Prometheus: default 60)
  --watch SECONDS         draw the graph again every SECONDS (from the agents, rates over the
                          SECONDS since the graph before; from Prometheus, over --window)
  --count N               with --watch, stop after N graphs
  -o, --output FORMAT     table (default), json, dot (Graphviz), mermaid, or svg (a picture)
`;

const FORMATS = ['table', 'json', 'dot', 'mermaid', 'svg'] as const;
type Format = (typeof FORMATS)[number];

export function render(edges: GraphEdge[], format: Format): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(edges)}\n`;
    case 'dot':
      return formatDot(edges);
    case 'mermaid':
      return formatMermaid(edges);
    case 'svg':
      return formatSvg(edges);
    default:
      return formatTable(edges);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(args: string[]): Promise<number> {
  const { values } = parse('graph', args, {
    sandbox: { type: 'string' },
    'admin-socket': { type: 'string', multiple: true },
    prometheus: { type: 'string' },
    window: { type: 'string' },
    watch: { type: 'string' },
    count: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const format = values.output as Format;
  if (!FORMATS.includes(format))
    throw new UsageError(`graph: -o takes ${FORMATS.join(', ')}, not ${values.output}`);
  if (values.prometheus && (values.sandbox || values['admin-socket']))
    throw new UsageError('graph: --prometheus reads from Prometheus, not from agents: give one');
  if (values.prometheus && !/^https?:\/\/[^/]/.test(values.prometheus))
    throw new UsageError(
      `graph: --prometheus takes an http:// or https:// URL, not ${values.prometheus}`,
    );
  const watchMs = secondsOption('graph', values, 'watch', 0.5, 86_400);
  const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  if (values.count !== undefined && !(Number.isInteger(count) && count > 0))
    throw new UsageError(`graph: --count takes a whole number above 0, not ${values.count}`);
  if (values.count !== undefined && watchMs === undefined)
    throw new UsageError('graph: --count goes with --watch');
  // From the agents, --watch's rates are over the time since the previous graph; from
  // Prometheus, each graph asks for the window (its scrape interval is likely longer).
  const asked = secondsOption('graph', values, 'window', values.prometheus ? 1 : 0, 86_400);
  if (asked !== undefined && watchMs !== undefined && !values.prometheus)
    throw new UsageError('graph: --watch takes its rates over its own interval: no --window');
  const windowMs =
    (values.prometheus ? undefined : watchMs) ?? asked ?? (values.prometheus ? 60_000 : 5000);
  const seconds = windowMs / 1000;

  let edgesNow: (before: Scrape[] | null) => Promise<{ edges: GraphEdge[]; scrapes: Scrape[] }>;
  if (values.prometheus) {
    const url = values.prometheus;
    edgesNow = async () => ({ edges: await prometheusEdges(url, seconds), scrapes: [] });
  } else {
    const sockets = values.sandbox
      ? loadSandboxState(values.sandbox).nodes.map((n) => n.adminSocket)
      : (values['admin-socket'] ?? [ADMIN_SOCKET]);
    const scrape = async () =>
      (await Promise.all(sockets.map((s) => adminText(s, '/metrics')))).map(parseScrape);
    let at = 0;
    edgesNow = async (before) => {
      const scrapes = await scrape();
      const now = performance.now();
      const edges = graphBetween(before ?? [], scrapes, before ? (now - at) / 1000 : 0);
      at = now;
      return { edges, scrapes };
    };
  }

  if (watchMs === undefined) {
    let before: Scrape[] | null = null;
    if (!values.prometheus && windowMs > 0) {
      before = (await edgesNow(null)).scrapes;
      await sleep(windowMs);
    }
    process.stdout.write(render((await edgesNow(before)).edges, format));
    return 0;
  }
  // --watch: each graph's rates are over the time since the one before.
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  const tty = process.stdout.isTTY && format === 'table';
  let before = values.prometheus ? null : (await edgesNow(null)).scrapes;
  for (let n = 0; n < count && !stop; n++) {
    await sleep(watchMs);
    const got = await edgesNow(before);
    before = got.scrapes;
    const text = render(got.edges, format);
    process.stdout.write(tty ? `\x1b[H\x1b[2J${new Date().toISOString()}\n${text}` : `${text}\n`);
  }
  return 0;
}
