// helm lint and helm template, with default and with non-default values; every rendered
// object (and the CRD) validates against the Kubernetes schemas.
import { describe, expect, it } from 'vitest';
import { validateObject } from './models.ts';
import { chart, customArgs, customValues, helm, type K8sObject, render } from './render.ts';

const expected = [
  'ClusterRole/weft-agent',
  'ClusterRole/weft-issuer',
  'ClusterRoleBinding/weft-agent',
  'ClusterRoleBinding/weft-issuer',
  'DaemonSet/weft-agent',
  'Deployment/weft-issuer',
  'Role/weft-issuer',
  'Role/weft-observer',
  'RoleBinding/weft-issuer',
  'Service/weft-issuer',
  'ServiceAccount/weft-agent',
  'ServiceAccount/weft-issuer',
];

const names = (objs: readonly K8sObject[]) =>
  objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('helm lint', () => {
  it('passes with the default values', () => {
    const r = helm(['lint', '--strict', chart]);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it('passes with non-default values', () => {
    const r = helm(['lint', '--strict', chart, '--values', customValues]);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });
});

describe('helm template', () => {
  it('renders the agent, the issuer, RBAC and the metrics Service with default values', () => {
    const objs = render('weft-system', ['--include-crds']);
    expect(names(objs)).toEqual(
      [
        ...expected,
        'CustomResourceDefinition/authorizationpolicies.security.weft.dev',
        'CustomResourceDefinition/httpfaults.weft.dev',
        'CustomResourceDefinition/httplocalratelimitpolicies.weft.dev',
        'Service/weft-agent-metrics',
      ].sort(),
    );
    for (const o of objs) validateObject(o);
    for (const o of objs)
      if (o.kind !== 'CustomResourceDefinition' && !o.kind.startsWith('Cluster'))
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('weft-system');
  });

  it('renders valid objects with non-default values (no metrics Service when disabled)', () => {
    const objs = render('mesh-system', customArgs);
    expect(names(objs)).toEqual(expected);
    for (const o of objs) validateObject(o);
    for (const o of objs)
      if (!o.kind.startsWith('Cluster'))
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('mesh-system');
  });

  it('validation catches a broken object (the check itself can fail)', () => {
    const [ds] = render('weft-system').filter((o) => o.kind === 'DaemonSet');
    const broken = structuredClone(ds!) as K8sObject & {
      spec: { template: { spec: { terminationGracePeriodSeconds: unknown } } };
    };
    broken.spec.template.spec.terminationGracePeriodSeconds = 'long';
    expect(() => validateObject(broken)).toThrow(
      /DaemonSet weft-agent: .*terminationGracePeriodSeconds/,
    );
    expect(() =>
      validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }),
    ).toThrow(/no schema/);
  });
});
