// weft issuer: the CA of the mesh. It holds the CA key (nodes never do) and
// signs SVIDs for a node's own pods only.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceHost, TRUST_DOMAIN, WEFT_NAMESPACE } from '../../config/index.ts';
import { IssuerServer, openCaStore } from '../../issuer/index.ts';
import type { IssuerCluster } from '../../issuer/kubernetes/index.ts';
import type { loadKubeConfig } from '../../sources/kubernetes/index.ts';
import { ManifestSource } from '../../sources/manifests/index.ts';
import {
  createLogger,
  HealthServer,
  type IssuerMetrics,
  type Logger,
  logLevel,
} from '../../telemetry/index.ts';
import { parse, portOption, required, UsageError } from '../args.ts';

export const help = `Usage: weft issuer --listen ADDRESS --ca-dir DIR --manifests DIR --node-tokens DIR [options]
       weft issuer --kubernetes --listen HOST:PORT --namespace NS [options]

Signs X.509-SVIDs (spiffe://<trust-domain>/ns/<ns>/sa/<sa>) for agents. A node,
proving itself with its token, gets identities only of service accounts of
pods scheduled on it (per the manifests).

On Kubernetes (--kubernetes), agents prove their node with a projected
service-account token (checked by TokenReview, audience --token-audience);
the CA lives in a Secret (generated and stored on first start unless
--ca-existing), its roots are published in a ConfigMap for agents to mount,
and the API is served over TLS with a certificate for the issuer's Service.

Options:
  --listen ADDRESS      unix socket path (mode 0600), or HOST:PORT (TLS; --kubernetes)
  --ca-dir DIR          ca.pem, ca-key.pem, [chain.pem], roots.pem; generated on first start
  --manifests DIR       the cluster's Pods (which node runs which service account)
  --node-tokens DIR     one file per node, named for the node, holding its token
  --trust-domain TD     default ${TRUST_DOMAIN}
  --svid-lifetime SEC   certificate lifetime in seconds (default 86400)

Kubernetes options:
  --kubernetes          read pods from the API server; authenticate agents by TokenReview
  --kubeconfig FILE     default: in-cluster service account, else KUBECONFIG
  --namespace NS        where the CA Secret, root ConfigMap and Service live (default ${WEFT_NAMESPACE})
  --ca-secret NAME      the CA Secret (tls.crt, tls.key, ca.crt; default weft-ca)
  --ca-existing         the Secret is provided (cert-manager): never create it
  --root-configmap NAME ConfigMap the roots are published in (default weft-ca-root)
  --token-audience AUD  audience agents' tokens must carry (default weft-issuer)
  --agent-service-account NAME  the agents' service account (default weft-agent)
  --service-name NAME   the issuer's Service, named in its serving certificate (default weft-issuer)
  --health-port PORT    /healthz/live and /healthz/ready on this port
  --metrics-port PORT   Prometheus /metrics (signings, refusals, TokenReview latency, CA expiry)
  --log-level LEVEL     debug, info, warn or error (default info): refusals are warn, signings info

SIGHUP re-reads the CA files: rotate a root by adding the new root to
roots.pem, switching ca.pem/ca-key.pem, sending SIGHUP, and later removing
the old root from roots.pem.
`;

function loadTokens(dir: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const node of readdirSync(dir)) {
    if (node.startsWith('.')) continue;
    const token = readFileSync(join(dir, node), 'utf8').trim();
    if (token.length < 16)
      throw new UsageError(`issuer: token of node ${node} is shorter than 16 characters`);
    tokens.set(token, node);
  }
  return tokens;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse('issuer', args, {
    listen: { type: 'string' },
    'ca-dir': { type: 'string' },
    manifests: { type: 'string' },
    'node-tokens': { type: 'string' },
    'trust-domain': { type: 'string', default: TRUST_DOMAIN },
    'svid-lifetime': { type: 'string', default: '86400' },
    kubernetes: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', default: WEFT_NAMESPACE },
    'ca-secret': { type: 'string', default: 'weft-ca' },
    'ca-existing': { type: 'boolean', default: false },
    'root-configmap': { type: 'string', default: 'weft-ca-root' },
    'token-audience': { type: 'string', default: 'weft-issuer' },
    'agent-service-account': { type: 'string', default: 'weft-agent' },
    'service-name': { type: 'string', default: 'weft-issuer' },
    'health-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const lifetime = Number(values['svid-lifetime']);
  if (!Number.isFinite(lifetime) || lifetime < 60)
    throw new UsageError('issuer: --svid-lifetime takes seconds, at least 60');
  let logger: Logger;
  try {
    logger = createLogger({ name: 'issuer', level: logLevel('issuer', values['log-level']) });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const metricsPort = portOption('issuer', values, 'metrics-port');
  if (values.kubernetes) return runOnKubernetes(values, lifetime, logger, metricsPort);
  const td = values['trust-domain'];
  const store = await openCaStore(required('issuer', values, 'ca-dir'), td);
  // prom-client loads only when metrics are asked for.
  const metrics =
    metricsPort === undefined ? undefined : await issuerMetrics(() => store.ca.certPem);
  const health =
    metricsPort === undefined
      ? undefined
      : await HealthServer.start(
          { ready: () => true, metrics: () => metrics!.render() },
          { metricsPort },
        );
  const source = new ManifestSource(required('issuer', values, 'manifests'));
  await source.start();
  const server = new IssuerServer({
    store,
    trustDomain: td,
    tokens: loadTokens(required('issuer', values, 'node-tokens')),
    lifetimeMs: lifetime * 1000,
    cluster: () => source.current(),
    audit: auditTo(logger),
    ...(metrics ? { metrics } : {}),
  });
  await server.listen(required('issuer', values, 'listen'));
  process.on('SIGHUP', () => {
    store.reload().then(
      () => logger.info('CA reloaded'),
      (e: Error) => logger.error(`CA reload failed, keeping the old one: ${e.message}`),
    );
  });
  logger.info(`listening on ${values.listen}, trust domain ${td}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  server.close();
  source.close();
  health?.close();
  process.exit(0);
}

type Values = Record<string, string | boolean | undefined>;

async function issuerMetrics(caPem: () => string): Promise<IssuerMetrics> {
  const { IssuerMetrics } = await import('../../telemetry/issuer-metrics/index.ts');
  return new IssuerMetrics(caPem);
}

/** Refusals are trouble (warn); signings and the rest are news (info). */
function auditTo(logger: Logger): (line: string) => void {
  return (l) => (l.startsWith('refused') ? logger.warn(l) : logger.info(l));
}

async function runOnKubernetes(
  values: Values,
  lifetime: number,
  logger: Logger,
  metricsPort: number | undefined,
): Promise<number> {
  const log = auditTo(logger);
  let metrics: IssuerMetrics | undefined;
  const td = values['trust-domain'] as string;
  const ns = values.namespace as string;
  const listen = required('issuer', values, 'listen');
  const healthPort = portOption('issuer', values, 'health-port');
  // The API client loads only on Kubernetes: a static issuer starts without it.
  const { loadKubeConfig } = await import('../../sources/kubernetes/index.ts');
  const { IssuerCluster } = await import('../../issuer/kubernetes/index.ts');
  const kc = loadKubeConfig(values.kubeconfig as string | undefined);
  const cluster = new IssuerCluster(kc, { log });
  let ready = false;
  const health = await HealthServer.start(
    {
      ready: () => ready && cluster.ready,
      metrics: () => (metrics ? metrics.render() : Promise.reject(new Error('not started'))),
    },
    { healthPort, ...(metricsPort !== undefined ? { metricsPort } : {}) },
  );
  try {
    return await serve(values, lifetime, {
      kc,
      cluster,
      health,
      td,
      ns,
      listen,
      log,
      setReady: () => {
        ready = true;
      },
      setMetrics: (m) => {
        metrics = m;
      },
    });
  } catch (e) {
    health.close();
    cluster.close();
    // The API client's pooled connections outlive close(): a failed start must still end.
    process.stderr.write(`weft: ${(e as Error).message}\n`, () => process.exit(1));
    return new Promise(() => {});
  }
}

interface Running {
  kc: ReturnType<typeof loadKubeConfig>;
  cluster: IssuerCluster;
  health: HealthServer;
  td: string;
  ns: string;
  listen: string;
  log: (l: string) => void;
  setReady: () => void;
  setMetrics: (m: IssuerMetrics) => void;
}

async function serve(values: Values, lifetime: number, r: Running): Promise<number> {
  const { kc, cluster, td, ns, listen, log } = r;
  await cluster.start();
  // weft's AuthorizationPolicies get Accepted/Rejected conditions from here, the one writer.
  const { PolicyStatusWriter, RouteStatusWriter, openSecretCaStore, TokenReviewAuthenticator } =
    await import('../../issuer/kubernetes/index.ts');
  const statusWriter = new PolicyStatusWriter(kc, { log });
  void statusWriter.start();
  // Gateway API routes bound to Services get their Accepted/ResolvedRefs conditions here too
  // (loaded here: the manifest-mode issuer has no use for it and starts faster without).
  const routeStatusWriter = new RouteStatusWriter(kc, { log });
  void routeStatusWriter.start();
  const store = await openSecretCaStore({
    kubeConfig: kc,
    namespace: ns,
    secretName: values['ca-secret'] as string,
    rootConfigMap: values['root-configmap'] as string,
    trustDomain: td,
    existing: values['ca-existing'] === true,
    log,
  });
  const metrics = await issuerMetrics(() => store.ca.certPem);
  r.setMetrics(metrics);
  const svc = values['service-name'] as string;
  const names = [`${svc}.${ns}.svc`, serviceHost(svc, ns), `${svc}.${ns}`, svc];
  const server = new IssuerServer({
    store,
    trustDomain: td,
    authenticator: new TokenReviewAuthenticator({
      kubeConfig: kc,
      audience: values['token-audience'] as string,
      agentServiceAccount: `${ns}:${values['agent-service-account']}`,
      podNode: (n, p) => cluster.podNode(n, p),
      onReview: (s, answered) => metrics.reviewed(s, answered),
    }),
    lifetimeMs: lifetime * 1000,
    cluster: () => cluster.objects(),
    audit: log,
    metrics,
  });
  const bound = await server.listen(listen, await store.ca.issueServing(names));
  r.setReady();
  // The CA Secret may be rotated (cert-manager): re-read it, then serve a fresh certificate.
  // The serving certificate is renewed the same way, well before its 24 h lifetime ends.
  const refresh = setInterval(() => {
    store
      .reload()
      .then(async () => server.setServingTls(await store.ca.issueServing(names)))
      .catch((e: Error) => log(`CA refresh failed, keeping the current one: ${e.message}`));
  }, 5 * 60_000);
  refresh.unref();
  log(
    `listening on ${listen.replace(/:\d+$/, `:${bound}`)} (TLS), trust domain ${td}, CA from Secret ${ns}/${values['ca-secret']}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  clearInterval(refresh);
  statusWriter.close();
  routeStatusWriter.close();
  server.close();
  r.health.close();
  cluster.close();
  // Agents' keep-alive connections would hold the loop open: an issuer told to stop exits.
  process.exit(0);
}
