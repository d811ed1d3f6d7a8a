// values.yaml reaches the command lines and pod specs; values.schema.json refuses what the
// chart cannot honour, with helm naming the value.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chart, customArgs, find, helm, type K8sObject, render, repo } from './render.ts';

interface Container {
  image: string;
  imagePullPolicy: string;
  command: string[];
  args: string[];
  resources: { limits?: Record<string, string> } & Record<string, unknown>;
  env: { name: string; value?: string }[];
}
type Workload = K8sObject & {
  spec: {
    replicas?: number;
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        containers: Container[];
        tolerations?: unknown[];
        nodeSelector?: Record<string, string>;
        imagePullSecrets?: unknown[];
        terminationGracePeriodSeconds?: number;
        volumes: { name: string; hostPath?: { path: string } }[];
      };
    };
  };
};

const defaults = render('weft-system');
const custom = render('mesh-system', customArgs);
const workload = (objs: K8sObject[], kind: string, name: string) =>
  find(objs, kind, name) as Workload;
const container = (objs: K8sObject[], kind: string, name: string) =>
  workload(objs, kind, name).spec.template.spec.containers[0]!;

describe('command lines', () => {
  it('default values: the agent command line contract, word for word', () => {
    const c = container(defaults, 'DaemonSet', 'weft-agent');
    const revision = c.args[c.args.indexOf('--revision') + 1];
    expect(revision).toMatch(/^[0-9a-f]{16}$/);
    expect([...c.command, ...c.args].join(' ')).toBe(
      '/app/bin/weft agent --kubernetes --node $(NODE_NAME) --cgroup-root /host/sys/fs/cgroup ' +
        '--host-proc /host/proc --bpffs /sys/fs/bpf/weft ' +
        '--issuer https://weft-issuer.weft-system.svc:15012 ' +
        '--issuer-token-file /var/run/secrets/weft/token --issuer-ca-file /etc/weft/ca/root.pem ' +
        '--trust-domain cluster.local --root-namespace weft-system --mtls-default permissive ' +
        '--metrics-port 15020 --health-port 15021 --health-socket /tmp/weft-health.sock ' +
        '--log-level info ' +
        `--handover-socket /run/weft/handover.sock --drain-grace 30 --after-handover wait --revision ${revision}`,
    );
  });

  it('updates agents by handover: a surge pod beside the old one, never a node without an agent', () => {
    const ds = workload(defaults, 'DaemonSet', 'weft-agent') as unknown as {
      spec: {
        updateStrategy: unknown;
        template: { spec: { terminationGracePeriodSeconds: number; hostNetwork: boolean } };
      };
    };
    expect(ds.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    // On the host network, containerPorts are host ports: the surge pod could not schedule.
    expect(
      (container(defaults, 'DaemonSet', 'weft-agent') as { ports?: unknown }).ports,
    ).toBeUndefined();
    // The old agent drains for --drain-grace; the kubelet waits that and 15 s more.
    expect(ds.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
    // Drained, it stays (idle) until the kubelet's SIGTERM: an exited container would be
    // restarted, and the old agent would take the node back from the new one.
    for (const objs of [defaults, custom]) {
      const args = container(objs, 'DaemonSet', 'weft-agent').args;
      expect(
        args.slice(args.indexOf('--after-handover'), args.indexOf('--after-handover') + 2),
      ).toEqual(['--after-handover', 'wait']);
    }
    // An update's two agents share the node's port, and the old one must not make the new
    // pod ready: the readiness probe asks, over the socket the agent serves in the pod's own
    // /tmp (an emptyDir, neither a hostPath nor the other pod's), the agent of its container
    // only, on the path that says 503 until a handover is accepted and once a newer agent
    // takes over. Liveness stays on the port.
    const pod = workload(defaults, 'DaemonSet', 'weft-agent').spec.template.spec;
    const probe = pod.containers[0] as unknown as {
      args: string[];
      readinessProbe: { exec: { command: string[] }; timeoutSeconds: number };
      livenessProbe: { httpGet: { path: string; port: number } };
      volumeMounts: { name: string; mountPath: string }[];
    };
    const socket = probe.args[probe.args.indexOf('--health-socket') + 1]!;
    // weft-probe: `weft probe` in C, no Node process every 5 s (native/probe/weft-probe.c).
    expect(probe.readinessProbe.exec.command).toEqual([
      '/app/build/bin/weft-probe',
      'ready',
      '--socket',
      socket,
    ]);
    expect(probe.readinessProbe.timeoutSeconds).toBeGreaterThan(1);
    const mount = probe.volumeMounts.find((m) => socket.startsWith(`${m.mountPath}/`))!;
    expect(mount.mountPath).toBe('/tmp');
    const volume = pod.volumes.find((v) => v.name === mount.name) as {
      emptyDir?: unknown;
      hostPath?: unknown;
    };
    expect(volume.emptyDir).toBeDefined();
    expect(volume.hostPath).toBeUndefined();
    expect(probe.livenessProbe.httpGet).toEqual({ path: '/healthz/live', port: 15021 });
    // A new image is a new revision; the same values render the same one.
    const revisionOf = (objs: K8sObject[]) => {
      const a = container(objs, 'DaemonSet', 'weft-agent').args;
      return a[a.indexOf('--revision') + 1];
    };
    expect(revisionOf(render('weft-system'))).toBe(revisionOf(defaults));
    expect(revisionOf(render('weft-system', ['--set', 'image.tag=next']))).not.toBe(
      revisionOf(defaults),
    );
  });

  it('default values: the issuer command line contract, word for word', () => {
    const c = container(defaults, 'Deployment', 'weft-issuer');
    expect([...c.command, ...c.args].join(' ')).toBe(
      '/app/bin/weft issuer --kubernetes --listen 0.0.0.0:15012 --trust-domain cluster.local ' +
        '--namespace weft-system --ca-secret weft-ca --root-configmap weft-ca-root ' +
        '--token-audience weft-issuer --health-port 15021 --log-level info',
    );
  });

  it('non-default values reach both command lines', () => {
    const flag = (c: Container, f: string) => c.args[c.args.indexOf(f) + 1];
    const agent = container(custom, 'DaemonSet', 'weft-agent');
    const issuer = container(custom, 'Deployment', 'weft-issuer');
    expect(flag(agent, '--trust-domain')).toBe('mesh.example.org');
    expect(flag(issuer, '--trust-domain')).toBe('mesh.example.org');
    expect(flag(agent, '--log-level')).toBe('debug');
    expect(flag(issuer, '--log-level')).toBe('debug');
    expect(flag(agent, '--root-namespace')).toBe('mesh-root');
    expect(flag(agent, '--mtls-default')).toBe('strict');
    expect(flag(agent, '--issuer')).toBe('https://weft-issuer.mesh-system.svc:15012');
    expect(flag(issuer, '--namespace')).toBe('mesh-system');
    expect(flag(issuer, '--ca-secret')).toBe('weft-ca-from-cert-manager');
    // The issuer may only read a Secret it did not make.
    expect(issuer.args).toContain('--ca-existing');
    expect(container(defaults, 'Deployment', 'weft-issuer').args).not.toContain('--ca-existing');
  });
});

describe('pod specs', () => {
  it('the image tag defaults to the chart appVersion, which is the package version', () => {
    const pkg = JSON.parse(readFileSync(`${repo}package.json`, 'utf8')) as { version: string };
    const meta = parse(readFileSync(`${chart}/Chart.yaml`, 'utf8')) as { appVersion: string };
    expect(meta.appVersion).toBe(pkg.version);
    for (const [kind, name] of [
      ['DaemonSet', 'weft-agent'],
      ['Deployment', 'weft-issuer'],
    ]) {
      const c = container(defaults, kind!, name!);
      expect(c.image).toBe(`localhost/weft:${pkg.version}`);
      expect(c.imagePullPolicy).toBe('IfNotPresent');
    }
  });

  it('image, pull policy and pull secrets follow the values in both workloads', () => {
    for (const [kind, name] of [
      ['DaemonSet', 'weft-agent'],
      ['Deployment', 'weft-issuer'],
    ]) {
      const w = workload(custom, kind!, name!);
      expect(w.spec.template.spec.containers[0]!.image).toBe(
        'registry.example.org/weft/weft:1.2.3-rc.1',
      );
      expect(w.spec.template.spec.containers[0]!.imagePullPolicy).toBe('Always');
      expect(w.spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    }
    expect(
      workload(defaults, 'DaemonSet', 'weft-agent').spec.template.spec.imagePullSecrets,
    ).toBeUndefined();
  });

  it('the agent runs on every node by default; tolerations and nodeSelector are values', () => {
    const d = workload(defaults, 'DaemonSet', 'weft-agent').spec.template.spec;
    expect(d.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(d.nodeSelector).toBeUndefined();
    const c = workload(custom, 'DaemonSet', 'weft-agent').spec.template.spec;
    expect(c.tolerations).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(c.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(c.terminationGracePeriodSeconds).toBe(45);
    expect(c.volumes.find((v) => v.name === 'cgroup')?.hostPath?.path).toBe(
      '/sys/fs/cgroup/unified',
    );
    expect(container(custom, 'DaemonSet', 'weft-agent').resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    });
  });

  it('extra agent environment follows NODE_NAME; none by default', () => {
    const env = (v: typeof defaults) => container(v, 'DaemonSet', 'weft-agent').env;
    expect(env(defaults).map((e) => e.name)).toEqual(['NODE_NAME']);
    expect(env(custom)).toEqual([
      expect.objectContaining({ name: 'NODE_NAME' }),
      { name: 'WEFT_AGENT_NODE_FLAGS', value: '--max-semi-space-size=32' },
    ]);
    // The default limit leaves room for the heap settings in docs/performance.md.
    expect(container(defaults, 'DaemonSet', 'weft-agent').resources.limits).toEqual({
      memory: '1Gi',
    });
  });

  it('issuer replicas, placement and resources are values', () => {
    expect(workload(defaults, 'Deployment', 'weft-issuer').spec.replicas).toBe(1);
    const w = workload(custom, 'Deployment', 'weft-issuer');
    expect(w.spec.replicas).toBe(2);
    expect(w.spec.template.spec.nodeSelector).toEqual({ 'node-role.kubernetes.io/infra': 'true' });
    expect(w.spec.template.spec.tolerations).toHaveLength(1);
    expect(w.spec.template.metadata.annotations).toEqual({ 'example.org/team': 'pki' });
    // Helm merges maps: the default memory limit stays unless the values file sets it to null.
    expect(w.spec.template.spec.containers[0]!.resources).toEqual({
      requests: { cpu: '20m', memory: '64Mi' },
      limits: { memory: '256Mi' },
    });
  });

  it('the metrics Service selects the agent pods, and goes away when metrics are disabled', () => {
    const svc = find(defaults, 'Service', 'weft-agent-metrics') as K8sObject & {
      spec: { selector: Record<string, string>; ports: { port: number }[]; clusterIP: string };
    };
    const ds = workload(defaults, 'DaemonSet', 'weft-agent') as Workload & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(svc.spec.selector).toEqual(ds.spec.selector.matchLabels);
    expect(svc.spec.ports.map((p) => p.port)).toEqual([15020]);
    expect(svc.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '15020',
    });
    expect(custom.some((o) => o.metadata.name === 'weft-agent-metrics')).toBe(false);
  });
});

describe('values.schema.json', () => {
  const fails = (...set: string[]) => {
    const r = helm(['template', 'weft', chart, ...set.flatMap((s) => ['--set', s])]);
    expect(r.status, r.stdout).not.toBe(0);
    return r.stderr;
  };

  it('rejects a default mTLS mode outside permissive|strict, naming the value', () => {
    expect(fails('mtls.defaultMode=relaxed')).toMatch(
      /mtls\.defaultMode: mtls\.defaultMode must be one of the following: "permissive", "strict"/,
    );
  });

  it('rejects a log level outside debug|info|warn|error', () => {
    expect(fails('logLevel=trace')).toMatch(
      /logLevel must be one of the following: "debug", "info", "warn", "error"/,
    );
  });

  it('rejects a misspelt key rather than ignoring it', () => {
    expect(fails('agent.toleration[0].operator=Exists')).toMatch(
      /agent: Additional property toleration is not allowed/,
    );
  });

  it('rejects a trust domain that is not a lowercase DNS name, and a non-integer replica count', () => {
    expect(fails('trustDomain=spiffe://Cluster.Local')).toMatch(/trustDomain/);
    expect(fails('issuer.replicas=0')).toMatch(/issuer\.replicas/);
  });

  it('accepts the default values and every value of each enum', () => {
    for (const set of [
      'mtls.defaultMode=strict',
      'logLevel=warn',
      'logLevel=error',
      'image.pullPolicy=Never',
    ]) {
      const r = helm(['template', 'weft', chart, '--set', set]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
