// Least privilege, read from the rendered chart: no wildcard RBAC, an agent that is not
// privileged and names its capabilities, an issuer that runs as non-root with nothing.
import { describe, expect, it } from 'vitest';
import { customArgs, find, type K8sObject, render } from './render.ts';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
interface Container {
  name: string;
  securityContext?: Record<string, unknown> & {
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: {
    name: string;
    mountPath: string;
    readOnly?: boolean;
    mountPropagation?: string;
  }[];
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  hostNetwork?: boolean;
  hostPID?: boolean;
  volumes: Record<string, unknown>[];
}
type Workload = K8sObject & {
  spec: { template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } };
};

const renderings = {
  default: render('weft-system'),
  custom: render('mesh-system', customArgs),
};

/** Every way a rule set can grant more than it names. */
function wildcardProblems(objs: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objs) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue;
    if ('aggregationRule' in o) problems.push(`${o.kind} ${o.metadata.name}: aggregationRule`);
    for (const [i, r] of ((o.rules as Rule[] | undefined) ?? []).entries())
      for (const field of ['apiGroups', 'resources', 'verbs'] as const) {
        const v = r[field];
        if (!v || v.length === 0)
          problems.push(`${o.kind} ${o.metadata.name} rule ${i}: no ${field}`);
        else if (v.some((x) => x.includes('*')))
          problems.push(`${o.kind} ${o.metadata.name} rule ${i}: ${field} ${JSON.stringify(v)}`);
      }
  }
  return problems;
}

/** (verb, apiGroup, resource, resourceName|'') grants, flattened and sorted. */
function grants(role: K8sObject): string[] {
  const out: string[] = [];
  for (const r of role.rules as Rule[])
    for (const g of r.apiGroups!)
      for (const res of r.resources!)
        for (const v of r.verbs!)
          for (const n of r.resourceNames ?? [''])
            out.push(`${v} ${g || 'core'}/${res}${n ? ` ${n}` : ''}`);
  return out.sort();
}

describe.each(Object.entries(renderings))('RBAC (%s values)', (which, objs) => {
  it("grants the observer role only what weft observe --kubernetes reads, in the agents' namespace", () => {
    const role = find(objs, 'Role', 'weft-observer');
    expect(grants(role)).toEqual(['get core/pods/proxy', 'list core/pods']);
    expect(role.metadata.namespace).toBe(which === 'default' ? 'weft-system' : 'mesh-system');
  });

  it('has no wildcard verbs, resources or apiGroups', () => {
    expect(wildcardProblems(objs)).toEqual([]);
  });

  it('grants the agent reads of its sources, and no writes', () => {
    expect(grants(find(objs, 'ClusterRole', 'weft-agent'))).toEqual(
      [
        ...[
          'core/namespaces',
          'core/pods',
          'core/services',
          'discovery.k8s.io/endpointslices',
          'networking.k8s.io/networkpolicies',
          'security.weft.dev/authorizationpolicies',
          'security.istio.io/authorizationpolicies',
          'gateway.networking.k8s.io/httproutes',
          'gateway.networking.k8s.io/grpcroutes',
          'gateway.networking.k8s.io/referencegrants',
          'weft.dev/httplocalratelimitpolicies',
          'weft.dev/httpfaults',
          'networking.istio.io/destinationrules',
        ].flatMap((r) => ['get', 'list', 'watch'].map((v) => `${v} ${r}`)),
      ].sort(),
    );
  });

  it('grants the issuer TokenReviews, pods and policy status cluster-wide, and no Secret but its CA', () => {
    expect(grants(find(objs, 'ClusterRole', 'weft-issuer'))).toEqual(
      [
        'create authentication.k8s.io/tokenreviews',
        'get core/pods',
        'list core/pods',
        'watch core/pods',
        'get security.weft.dev/authorizationpolicies',
        'list security.weft.dev/authorizationpolicies',
        'watch security.weft.dev/authorizationpolicies',
        'patch security.weft.dev/authorizationpolicies/status',
        // Route status: the routes, the grants and the Services they name.
        ...[
          'core/services',
          'gateway.networking.k8s.io/httproutes',
          'gateway.networking.k8s.io/grpcroutes',
          'gateway.networking.k8s.io/referencegrants',
          'weft.dev/httpfaults',
        ].flatMap((r) => ['get', 'list', 'watch'].map((v) => `${v} ${r}`)),
        'patch gateway.networking.k8s.io/httproutes/status',
        'patch gateway.networking.k8s.io/grpcroutes/status',
      ].sort(),
    );
    const role = find(objs, 'Role', 'weft-issuer');
    const secretGrants = grants(role).filter((g) => g.includes('core/secrets'));
    for (const g of secretGrants)
      expect(g).toMatch(/^(create core\/secrets|\w+ core\/secrets weft-ca\S*)$/);
    expect(grants(role).filter((g) => g.includes('configmaps'))).toEqual(
      [
        'create core/configmaps',
        'get core/configmaps weft-ca-root',
        'update core/configmaps weft-ca-root',
      ].sort(),
    );
  });

  it('binds each role to its own service account in the release namespace', () => {
    const ns = find(objs, 'DaemonSet', 'weft-agent').metadata.namespace;
    for (const [kind, name] of [
      ['ClusterRoleBinding', 'weft-agent'],
      ['ClusterRoleBinding', 'weft-issuer'],
      ['RoleBinding', 'weft-issuer'],
    ] as const) {
      const b = find(objs, kind, name) as K8sObject & {
        roleRef: { name: string };
        subjects: unknown[];
      };
      expect(b.roleRef.name).toBe(name);
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name, namespace: ns }]);
    }
  });
});

describe('the wildcard check', () => {
  it('fails on "*" in verbs, resources or apiGroups', () => {
    const role = (rule: Rule): K8sObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'r' },
      rules: [rule],
    });
    const ok = { apiGroups: [''], resources: ['pods'], verbs: ['get'] };
    expect(wildcardProblems([role(ok)])).toEqual([]);
    expect(wildcardProblems([role({ ...ok, verbs: ['*'] })])).toEqual([
      'ClusterRole r rule 0: verbs ["*"]',
    ]);
    expect(wildcardProblems([role({ ...ok, resources: ['pods/*'] })])).toHaveLength(1);
    expect(wildcardProblems([role({ ...ok, apiGroups: ['*'] })])).toHaveLength(1);
  });
});

describe('the secret grants follow issuer.ca.existingSecret', () => {
  it('generated CA: create, then get weft-ca', () => {
    const g = grants(find(renderings.default, 'Role', 'weft-issuer')).filter((x) =>
      x.includes('secrets'),
    );
    expect(g).toEqual(['create core/secrets', 'get core/secrets weft-ca']);
  });

  it('existing Secret (cert-manager): read that Secret only', () => {
    const g = grants(find(renderings.custom, 'Role', 'weft-issuer')).filter((x) =>
      x.includes('secrets'),
    );
    expect(g).toEqual(['get core/secrets weft-ca-from-cert-manager']);
  });
});

describe.each(Object.entries(renderings))('pod security (%s values)', (_, objs) => {
  const agent = find(objs, 'DaemonSet', 'weft-agent') as Workload;
  const issuer = find(objs, 'Deployment', 'weft-issuer') as Workload;

  it('the agent is not privileged and adds exactly the capabilities the docs justify', () => {
    const [c] = agent.spec.template.spec.containers;
    const sc = c!.securityContext!;
    expect(sc.privileged).toBe(false);
    expect(sc.capabilities!.drop).toEqual(['ALL']);
    expect([...sc.capabilities!.add!].sort()).toEqual([
      'BPF',
      'NET_ADMIN',
      'SYS_ADMIN',
      'SYS_PTRACE',
      'SYS_RESOURCE',
    ]);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    // Kubernetes refuses Bidirectional propagation for unprivileged containers.
    for (const m of c!.volumeMounts!)
      expect(m.mountPropagation ?? 'None', m.name).not.toBe('Bidirectional');
    expect(agent.spec.template.spec.hostNetwork).toBe(true);
    expect(agent.spec.template.spec.hostPID).toBe(true);
  });

  it('the agent mounts the host filesystems where its command line expects them', () => {
    const [c] = agent.spec.template.spec.containers;
    const mounts = Object.fromEntries(c!.volumeMounts!.map((m) => [m.mountPath, m]));
    expect(mounts['/host/proc']?.readOnly).toBe(true);
    expect(mounts['/host/sys/fs/cgroup']?.readOnly).toBeFalsy();
    expect(mounts['/sys/fs/bpf']?.mountPropagation).toBe('HostToContainer');
    expect(mounts['/run/netns']?.mountPropagation).toBe('HostToContainer');
    expect(Object.keys(mounts)).toEqual(
      expect.arrayContaining(['/run/weft', '/var/run/secrets/weft', '/etc/weft/ca']),
    );
    const token = agent.spec.template.spec.volumes.find((v) => v.name === 'issuer-token');
    expect(token).toEqual({
      name: 'issuer-token',
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: 'weft-issuer',
              expirationSeconds: 3600,
              path: 'token',
            },
          },
        ],
      },
    });
  });

  it('the issuer runs as 65532 with no capabilities and a read-only root', () => {
    const pod = issuer.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const sc = pod.containers[0]!.securityContext!;
    expect(sc).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    expect(sc.capabilities).toEqual({ drop: ['ALL'] });
    expect(pod.hostNetwork ?? false).toBe(false);
  });
});

describe('AppArmor', () => {
  it('before Kubernetes 1.30: the pod annotation', () => {
    const agent = find(renderings.default, 'DaemonSet', 'weft-agent') as Workload;
    expect(agent.spec.template.metadata.annotations).toMatchObject({
      'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined',
    });
    expect(
      agent.spec.template.spec.containers[0]!.securityContext!.appArmorProfile,
    ).toBeUndefined();
  });

  it('from 1.30: the securityContext field, and no deprecated annotation', () => {
    const agent = find(renderings.custom, 'DaemonSet', 'weft-agent') as Workload;
    expect(agent.spec.template.spec.containers[0]!.securityContext!.appArmorProfile).toEqual({
      type: 'Unconfined',
    });
    expect(Object.keys(agent.spec.template.metadata.annotations ?? {})).toEqual([
      'example.org/team',
    ]);
  });
});
