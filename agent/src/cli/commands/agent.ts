// weft agent: runs one node's agent in the foreground until SIGTERM/SIGINT.

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AdminServer, listenUnix, parseHostPort } from '../../admin/index.ts';
import { nativeKernelProbe, requireKernelFeatures } from '../../check/index.ts';
import {
  ADMIN_SOCKET,
  HANDOVER_SOCKET,
  HEALTH_SOCKET,
  PIN_ROOT,
  TRUST_DOMAIN,
  WEFT_NAMESPACE,
} from '../../config/index.ts';
import { DEFAULT_DRAIN_GRACE_MS } from '../../handover/index.ts';
import { DEFAULT_HBONE_LIMITS, MIN_KEEPALIVE_MS } from '../../proxy/index.ts';
import type { SnapshotSource } from '../../sources/index.ts';
import { createLogger, HealthServer, LOG_LEVELS, type LogLevel } from '../../telemetry/index.ts';
import { parse, portOption, required, secondsOption, UsageError } from '../args.ts';

export const help = `Usage: weft agent --node NAME --manifests DIR --cgroup-root DIR [options]
       weft agent --kubernetes --node NAME --cgroup-root DIR --host-proc DIR [options]

Runs the node agent: attaches weft's BPF programs at --cgroup-root, enrolls the
pods the manifests (or the cluster) place on --node, and runs the node proxy.

Options:
  --node NAME           this node's name (pods with spec.nodeName NAME are ours)
  --manifests DIR       directory of Kubernetes-format YAML (Namespace, Pod, Service)
  --cgroup-root DIR     cgroup v2 directory holding the node's pods (never the host root in tests)
  --bpffs DIR           pin directory (default ${PIN_ROOT})
  --admin-socket PATH   admin API socket, mode 0600 (default ${ADMIN_SOCKET})
  --admin-tcp ADDR      also serve the admin API on TCP, e.g. 127.0.0.1:15000 (default off:
                        any process that reaches it reads the access log)
  --no-admin-tcp        no TCP admin API (the default; kept for existing scripts)
  --access-log WHERE    one JSON line per connection and HTTP request (Envoy's field names) on
                        stdout, or appended to the file WHERE; at most 1000 lines a second
                        (default off)
  --access-log-query-strings
                        keep query strings of request paths in the access log (default off:
                        they may carry credentials)
  --handover-socket PATH  where this agent takes over from a running one, and waits for
                        the next (default ${HANDOVER_SOCKET}; a hostPath on Kubernetes)
  --drain-grace S       after handing over, serve what could not move for at most S
                        seconds (default ${DEFAULT_DRAIN_GRACE_MS / 1000}); then it is reset
  --after-handover WHAT once handed over and drained: exit, or wait (close everything, stay
                        idle, exit 0 at SIGTERM: a kubelet would restart an exited container).
                        Default: wait with --kubernetes, else exit
  --revision R          this agent's revision (letters, digits, . _ -; at most 64): a readiness
                        probe whose X-Weft-Revision header names another gets 503 (default none)
  --revoke-on-policy-change
                        reset carried connections that a policy change no longer allows
                        (default off: established connections carry on, as NetworkPolicy has it)
  --splice              splice app<->proxy loopback hops with sockops/sk_msg
  --issuer ADDRESS      the issuer's unix socket or https://host:port; enables mTLS (HBONE)
  --issuer-token-file F this node's credential for the issuer (re-read on each request)
  --issuer-ca-file F    roots the issuer's certificate must chain to (https issuer)
  --trust-domain TD     SPIFFE trust domain (default ${TRUST_DOMAIN})
  --root-namespace NS   where mesh-wide AuthorizationPolicies live (default ${WEFT_NAMESPACE})
  --mtls-default MODE   permissive or strict, for namespaces without weft.dev/mtls (default permissive)
  --hbone-keepalive S   PING each HBONE peer every S seconds; drop a session unanswered for S (default 10)
  --hbone-handshake-timeout S  close an HBONE connection still in its TLS handshake after S seconds (default 5)
  --hbone-max-streams N open inbound HBONE streams the agent holds, all pods together (default 128)
  --http-body-timeout S on the L7 path, drop a request whose body sends nothing for S seconds (default 15)
  --health-port PORT    /healthz/live and /healthz/ready (ready once the cluster state is in)
  --health-socket PATH  the same on a unix socket, mode 0600, for an exec readiness probe
                        (weft-probe ready): in a container-local directory it reaches only
                        this agent, never the other agent of an update sharing the node's
                        port. Default ${HEALTH_SOCKET} with --kubernetes, else none
  --metrics-port PORT   Prometheus /metrics, and /flows (JSON) for weft observe --kubernetes
  --log-level LEVEL     debug, info, warn or error (default info)

Kubernetes:
  --kubernetes          read the cluster from the API server (informers) instead of --manifests
  --kubeconfig FILE     default: the pod's service account, else KUBECONFIG
  --host-proc DIR       the host's /proc as mounted in the agent (default /proc)
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse('agent', args, {
    node: { type: 'string' },
    manifests: { type: 'string' },
    'cgroup-root': { type: 'string' },
    bpffs: { type: 'string', default: PIN_ROOT },
    'admin-socket': { type: 'string', default: ADMIN_SOCKET },
    'admin-tcp': { type: 'string' },
    'no-admin-tcp': { type: 'boolean', default: false },
    'access-log': { type: 'string' },
    'access-log-query-strings': { type: 'boolean', default: false },
    'handover-socket': { type: 'string', default: HANDOVER_SOCKET },
    'drain-grace': { type: 'string' },
    'after-handover': { type: 'string' },
    revision: { type: 'string' },
    'revoke-on-policy-change': { type: 'boolean', default: false },
    splice: { type: 'boolean', default: false },
    issuer: { type: 'string' },
    'issuer-token-file': { type: 'string' },
    'trust-domain': { type: 'string', default: TRUST_DOMAIN },
    'issuer-ca-file': { type: 'string' },
    'root-namespace': { type: 'string', default: WEFT_NAMESPACE },
    'mtls-default': { type: 'string', default: 'permissive' },
    'hbone-keepalive': { type: 'string' },
    'hbone-handshake-timeout': { type: 'string' },
    'hbone-max-streams': { type: 'string' },
    'http-body-timeout': { type: 'string' },
    'health-port': { type: 'string' },
    'health-socket': { type: 'string' },
    'metrics-port': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    kubernetes: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    'host-proc': { type: 'string', default: '/proc' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const mtls = values['mtls-default'];
  if (mtls !== 'permissive' && mtls !== 'strict')
    throw new UsageError(`agent: --mtls-default is permissive or strict, not ${mtls}`);
  if (!(LOG_LEVELS as readonly string[]).includes(values['log-level']))
    throw new UsageError(
      `agent: --log-level is one of ${LOG_LEVELS.join(', ')}, not ${values['log-level']}`,
    );
  const logger = createLogger({ name: 'agent', level: values['log-level'] as LogLevel });
  const healthPort = portOption('agent', values, 'health-port');
  const healthSocket = healthSocketOption(values['health-socket'], values.kubernetes);
  const keepaliveMs = secondsOption(
    'agent',
    values,
    'hbone-keepalive',
    MIN_KEEPALIVE_MS / 1000,
    3600,
  );
  const handshakeMs = secondsOption('agent', values, 'hbone-handshake-timeout', 0.1, 120);
  const maxStreams = values['hbone-max-streams'];
  if (maxStreams !== undefined && !/^[1-9]\d{0,5}$/.test(maxStreams))
    throw new UsageError(
      `agent: --hbone-max-streams takes a count from 1 to 999999, not ${maxStreams}`,
    );
  const bodyIdleMs = secondsOption('agent', values, 'http-body-timeout', 1, 3600);
  const graceMs = secondsOption('agent', values, 'drain-grace', 0, 86400) ?? DEFAULT_DRAIN_GRACE_MS;
  const after = afterHandoverOption(values['after-handover'], values.kubernetes);
  const revision = values.revision;
  if (revision !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(revision))
    throw new UsageError(
      `agent: --revision takes letters, digits, '.', '_' and '-' (at most 64), not ${JSON.stringify(revision)}`,
    );
  const metricsPort = portOption('agent', values, 'metrics-port');
  const adminTcp = adminTcpOption(values['admin-tcp'], values['no-admin-tcp']);
  const node = required('agent', values, 'node');
  const cgroupRoot = required('agent', values, 'cgroup-root');
  // Agent messages are trouble worth a line (warn); only error silences them.
  const log = (l: string) => logger.warn(l);
  let source: SnapshotSource | undefined;
  let closeSource = () => {};
  if (values.kubernetes) {
    const { kubernetesOnNode } = await import('../../sources/kubernetes/index.ts');
    const k = kubernetesOnNode({
      kubeconfig: values.kubeconfig,
      node,
      cgroupRoot,
      procRoot: values['host-proc'],
      log,
    });
    source = k.source;
    closeSource = k.close;
  } else if (!values.manifests) {
    throw new UsageError("agent: give --manifests DIR or --kubernetes. Run 'weft agent --help'.");
  }
  const tokenFile = values.issuer ? required('agent', values, 'issuer-token-file') : undefined;
  // No fallback: every probed feature is on the enforcement path (check/features.ts).
  const kernel = nativeKernelProbe();
  try {
    requireKernelFeatures(kernel);
  } finally {
    kernel.release();
  }
  // Loaded once the flags are known good: a usage error answers without the whole agent.
  const { Agent, Lifecycle } = await import('../../agent/index.ts');
  // A running agent on this node hands its listening sockets over (docs/upgrades.md).
  const handoverPath = values['handover-socket'];
  const life = await Lifecycle.begin(handoverPath);
  const agent = new Agent({
    inherit: life.inherit,
    lifecycle: () => life.status(),
    node,
    manifests: values.manifests,
    source,
    cgroupRoot,
    pinRoot: values.bpffs,
    splice: values.splice,
    trustDomain: values['trust-domain'],
    rootNamespace: values['root-namespace'],
    mtlsDefault: mtls,
    accessLogQueryStrings: values['access-log-query-strings'],
    revokeOnPolicyChange: values['revoke-on-policy-change'],
    ...(values['access-log'] ? { accessLog: values['access-log'] } : {}),
    hboneKeepalive: keepaliveMs ? { intervalMs: keepaliveMs, timeoutMs: keepaliveMs } : undefined,
    hboneLimits: {
      ...DEFAULT_HBONE_LIMITS,
      ...(handshakeMs ? { handshakeTimeoutMs: handshakeMs } : {}),
      ...(maxStreams ? { maxStreams: Number(maxStreams) } : {}),
    },
    ...(bodyIdleMs ? { httpLimits: { bodyIdleMs } } : {}),
    log,
    debug: (l: string) => logger.debug(l),
    issuer: values.issuer
      ? {
          address: values.issuer,
          token: () => readFileSync(tokenFile!, 'utf8').trim(),
          // Re-read each call: the roots file follows the CA Secret when it rotates.
          caPem: values['issuer-ca-file']
            ? () => readFileSync(values['issuer-ca-file']!, 'utf8')
            : undefined,
        }
      : undefined,
  });
  // Health first: the kubelet may probe before the initial lists are in (ready says 503 until then).
  // Ready only once it serves every listener: during an update the kubelet stops the old pod
  // when the new one is ready, and by then the old one must have handed over.
  let serving = false;
  if (healthSocket) mkdirSync(dirname(healthSocket), { recursive: true, mode: 0o700 });
  const health = await HealthServer.start(
    {
      ready: () => serving && agent.ready(),
      // From a newer agent's hello on, this one is not ready (both answer the node's port).
      handingOver: () => life.givingOver,
      // Both agents of an update answer the node's port: a probe for the other gets 503.
      ...(revision !== undefined ? { revision } : {}),
      metrics: () => agent.metrics!.render(),
      flows: (since) => agent.flowsSince(since),
    },
    {
      healthPort,
      metricsPort,
      ...(healthSocket ? { socket: { path: healthSocket, listen: listenUnix } } : {}),
    },
  );
  // Whatever ends the process, the probe then finds no socket rather than a stale one.
  process.once('exit', () => health.close());
  try {
    await agent.start();
  } catch (e) {
    life.abandon(); // the running agent carries on
    throw e;
  }
  await life.accepted(agent, log);
  serving = true;
  mkdirSync(dirname(values['admin-socket']), { recursive: true });
  const admin = await AdminServer.start(agent, values['admin-socket'], { tcp: adminTcp });
  logger.info(
    `weft agent: node ${values.node} ready (generation ${life.generation}${life.takeover ? `, took over from pid ${life.takeover.status.from.pid}` : ''})`,
  );
  // Handed over: the admin socket path is the new agent's; kept-alive clients move there too.
  const handedOver = life.offer(handoverPath, agent, graceMs, log, () => admin.close());
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const first = await Promise.race([
    handedOver.then(() => 'handover'),
    signalled.then(() => 'signal'),
  ]);
  // Told to stop after handing over (the old pod of a DaemonSet update): drain first.
  if (first === 'signal' && life.handedOver) await handedOver;
  if (life.handedOver) {
    const r = await handedOver;
    logger.info(
      `weft agent: handed over to pid ${r.to}: ${r.moved} relayed connections moved${r.lost ? `, ${r.lost} lost (reset)` : ''}; ${r.reason}`,
    );
  }
  life.close();
  if (!life.handedOver) admin.close();
  if (life.handedOver && after === 'wait' && first !== 'signal') {
    // What the grace period left open is reset, as the exit would reset it; the health
    // server stays (live 200, ready 503), so the kubelet neither restarts this container
    // nor counts it ready. The DaemonSet deletes this pod once the new one is ready.
    agent.nodeProxy.resetCarried('the drain grace period is over');
    await agent.stop();
    closeSource();
    logger.info('weft agent: drained; idle until SIGTERM (--after-handover wait)');
    await signalled;
    health.close();
    process.exit(0);
  }
  health.close();
  await agent.stop();
  closeSource();
  // Established proxied connections would keep the loop alive; an agent told to stop exits.
  process.exit(0);
}

/**
 * --after-handover: exit where whoever starts agents waits for the old one to be gone (a
 * plain host, `weft sandbox restart`); wait under Kubernetes, where the kubelet restarts
 * an exited container (restartPolicy Always) and the old image's agent would then take the
 * node over again from the new one.
 */
export function afterHandoverOption(
  value: string | undefined,
  kubernetes: boolean,
): 'exit' | 'wait' {
  if (value === undefined) return kubernetes ? 'wait' : 'exit';
  if (value === 'exit' || value === 'wait') return value;
  throw new UsageError(`agent: --after-handover is exit or wait, not ${value}`);
}

/**
 * --health-socket: under Kubernetes on by default (the chart's /tmp is the pod's own
 * emptyDir); elsewhere off, since agents of one host share /tmp (the sandbox runs several).
 */
export function healthSocketOption(
  value: string | undefined,
  kubernetes: boolean,
): string | undefined {
  if (value === undefined) return kubernetes ? HEALTH_SOCKET : undefined;
  if (!value.startsWith('/'))
    throw new UsageError(
      `agent: --health-socket takes an absolute path, not ${JSON.stringify(value)}`,
    );
  return value;
}

/** --admin-tcp ADDR, refused with --no-admin-tcp or when ADDR is not host:port. */
export function adminTcpOption(addr: string | undefined, off: boolean | undefined) {
  if (addr === undefined) return undefined;
  if (off) throw new UsageError('agent: --admin-tcp and --no-admin-tcp contradict each other');
  const hp = parseHostPort(addr);
  if (!hp)
    throw new UsageError(`agent: --admin-tcp takes host:port (e.g. 127.0.0.1:15000), not ${addr}`);
  return hp;
}
