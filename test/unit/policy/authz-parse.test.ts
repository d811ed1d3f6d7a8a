import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  isAuthorizationPolicy,
  parseAuthorizationPolicy,
} from '../../../agent/src/sources/policy/authz-parse.ts';
import type { ObjectError } from '../../../agent/src/state/types.ts';

const F = 'policy/shop.yaml';
const OBJ = 'AuthorizationPolicy shop/web';

function read(yaml: string, index = 0) {
  return parseAuthorizationPolicy(F, parse(yaml), index);
}

/** A policy shop/web with this spec, indented by the caller as under `spec:`. */
function withSpec(spec: string, apiVersion = 'security.istio.io/v1') {
  return read(`apiVersion: ${apiVersion}
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
${spec}`);
}

/** The errors; the policy is rejected, or in force only as its fail-closed stand-in. */
function errors(spec: string): ObjectError[] {
  const r = withSpec(spec);
  expect(r.policy === undefined || r.policy.failClosed !== undefined).toBe(true);
  return r.errors.map(({ failsClosed: _, ...e }) => e);
}

const err = (field: string, message: string): ObjectError => ({
  file: F,
  object: OBJ,
  field,
  message,
});

describe('parseAuthorizationPolicy: valid policies', () => {
  it('reads every supported field', () => {
    const r = withSpec(`  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/front/sa/ui]
        notPrincipals: ["*/sa/legacy"]
        namespaces: [front]
        notNamespaces: [kube-system]
        ipBlocks: [10.0.0.0/8, 192.168.1.1]
        notIpBlocks: ["10.9.0.0/16"]
    to:
    - operation:
        ports: ["8080"]
        notPorts: ["9090"]
        methods: [GET]
        notMethods: [DELETE]
        paths: [/api/*]
        notPaths: [/api/admin*]
        hosts: [web.shop]
        notHosts: ["*.internal"]
    when:
    - key: request.headers[x-user]
      values: ["*@example.com"]
      notValues: [root@example.com]
  - {}
`);
    expect(r.errors).toEqual([]);
    expect(r.policy).toEqual({
      namespace: 'shop',
      name: 'web',
      apiVersion: 'security.istio.io/v1',
      selector: { matchLabels: { app: 'web' } },
      action: 'DENY',
      rules: [
        {
          from: [
            {
              principals: ['cluster.local/ns/front/sa/ui'],
              notPrincipals: ['*/sa/legacy'],
              namespaces: ['front'],
              notNamespaces: ['kube-system'],
              ipBlocks: ['10.0.0.0/8', '192.168.1.1'],
              notIpBlocks: ['10.9.0.0/16'],
            },
          ],
          to: [
            {
              ports: ['8080'],
              notPorts: ['9090'],
              methods: ['GET'],
              notMethods: ['DELETE'],
              paths: ['/api/*'],
              notPaths: ['/api/admin*'],
              hosts: ['web.shop'],
              notHosts: ['*.internal'],
            },
          ],
          when: [
            {
              key: 'request.headers[x-user]',
              values: ['*@example.com'],
              notValues: ['root@example.com'],
            },
          ],
        },
        {},
      ],
    });
  });

  it.each(['security.istio.io/v1', 'security.istio.io/v1beta1', 'security.weft.dev/v1alpha1'])(
    'accepts apiVersion %s',
    (apiVersion) => {
      const r = withSpec('  rules: [{}]', apiVersion);
      expect(r.errors).toEqual([]);
      expect(r.policy?.apiVersion).toBe(apiVersion);
      expect(
        isAuthorizationPolicy(parse(`apiVersion: ${apiVersion}\nkind: AuthorizationPolicy`)),
      ).toBe(true);
    },
  );

  it('applies the defaults: namespace default, action ALLOW, no selector, rules absent', () => {
    const r = read(
      'apiVersion: security.weft.dev/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing}\n',
    );
    expect(r).toEqual({
      policy: {
        namespace: 'default',
        name: 'allow-nothing',
        apiVersion: 'security.weft.dev/v1alpha1',
        action: 'ALLOW',
        rules: undefined,
      },
      errors: [],
    });
  });

  it('keeps absent, empty and {} rules apart, and accepts DENY and AUDIT without rules', () => {
    expect(withSpec('  action: DENY').policy?.rules).toBeUndefined();
    expect(withSpec('  action: AUDIT\n  rules: []').policy?.rules).toEqual([]);
    expect(withSpec('  rules: [{}]').policy?.rules).toEqual([{}]);
  });

  it('reads an empty selector as the whole namespace', () => {
    expect(withSpec('  selector: {}\n  rules: [{}]').policy?.selector).toBeUndefined();
    expect(withSpec('  selector: {matchLabels: {}}').policy?.selector).toBeUndefined();
  });

  it('tells other objects apart', () => {
    expect(isAuthorizationPolicy(parse('apiVersion: v1\nkind: Pod'))).toBe(false);
    expect(
      isAuthorizationPolicy(parse('apiVersion: security.istio.io/v2\nkind: AuthorizationPolicy')),
    ).toBe(false);
  });
});

describe('parseAuthorizationPolicy: errors', () => {
  it('names the document when the object has no name', () => {
    expect(
      read('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {}\n', 2).errors,
    ).toEqual([
      {
        file: F,
        object: 'document 3',
        field: 'metadata.name',
        message:
          "expected a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and '-', at most 253 characters), found nothing",
      },
    ]);
    expect(parseAuthorizationPolicy(F, 'text', 0).errors).toEqual([
      {
        file: F,
        object: 'document 1',
        field: '',
        message: 'expected an AuthorizationPolicy (a map), found the string "text"',
      },
    ]);
  });

  it('refuses another apiVersion or kind', () => {
    const r = read(
      'apiVersion: security.istio.io/v2\nkind: AuthorizationPolicies\nmetadata: {name: web, namespace: shop}\n',
    );
    expect(r.errors).toEqual([
      err('kind', 'expected AuthorizationPolicy, found the string "AuthorizationPolicies"'),
      err(
        'apiVersion',
        'expected security.istio.io/v1, security.istio.io/v1beta1 or security.weft.dev/v1alpha1, found the string "security.istio.io/v2"',
      ),
    ]);
  });

  it('refuses CUSTOM and unknown actions', () => {
    expect(errors('  action: CUSTOM\n  provider: {name: opa}')).toEqual([
      err(
        'spec.action',
        'expected ALLOW, DENY or AUDIT, found CUSTOM: external authorizers are not supported',
      ),
    ]);
    expect(errors('  action: allow')).toEqual([
      err('spec.action', 'expected ALLOW, DENY or AUDIT, found the string "allow"'),
    ]);
    expect(errors('  provider: {name: opa}')).toEqual([
      err('spec.provider', 'expected no provider (it goes with action CUSTOM), found a map'),
    ]);
  });

  it('refuses targetRefs and unknown fields anywhere', () => {
    expect(errors('  targetRefs: [{kind: Service, name: web}]')).toEqual([
      err(
        'spec.targetRefs',
        'expected no targetRefs (not supported: weft selects workloads with spec.selector), found a list',
      ),
    ]);
    expect(errors('  rules:\n  - from:\n    - source: {notPrincipal: [a]}')).toEqual([
      err(
        'spec.rules[0].from[0].source.notPrincipal',
        'expected one of principals, notPrincipals, namespaces, notNamespaces, ipBlocks, notIpBlocks, requestPrincipals, notRequestPrincipals, remoteIpBlocks, notRemoteIpBlocks, serviceAccounts, notServiceAccounts, found the unknown field "notPrincipal"',
      ),
    ]);
    expect(errors('  rule: [{}]')).toEqual([
      err(
        'spec.rule',
        'expected one of selector, action, rules, provider, targetRef, targetRefs, found the unknown field "rule"',
      ),
    ]);
  });

  it('checks ports: strings of numbers from 1 to 65535', () => {
    expect(
      errors(
        '  rules:\n  - to:\n    - operation: {ports: [8080, "0", "http"], notPorts: ["70000"]}',
      ),
    ).toEqual([
      err(
        'spec.rules[0].to[0].operation.ports[0]',
        'expected a string (quote it), found the number 8080',
      ),
      err(
        'spec.rules[0].to[0].operation.ports[1]',
        'expected a port number from 1 to 65535, found the string "0"',
      ),
      err(
        'spec.rules[0].to[0].operation.ports[2]',
        'expected a port number from 1 to 65535, found the string "http"',
      ),
      err(
        'spec.rules[0].to[0].operation.notPorts[0]',
        'expected a port number from 1 to 65535, found the string "70000"',
      ),
    ]);
  });

  it('checks ipBlocks: an IP or a CIDR', () => {
    expect(
      errors(
        '  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/33], notIpBlocks: [web.shop]}',
      ),
    ).toEqual([
      err(
        'spec.rules[0].from[0].source.ipBlocks[0]',
        'expected an IP address or CIDR, such as 10.0.0.1 or 10.0.0.0/16, found the string "10.0.0.0/33"',
      ),
      err(
        'spec.rules[0].from[0].source.notIpBlocks[0]',
        'expected an IP address or CIDR, such as 10.0.0.1 or 10.0.0.0/16, found the string "web.shop"',
      ),
    ]);
  });

  it('refuses request principals and principals written with spiffe://', () => {
    expect(
      errors(
        '  rules:\n  - from:\n    - source: {requestPrincipals: ["*"], principals: ["spiffe://cluster.local/ns/a/sa/b"]}',
      ),
    ).toEqual([
      err(
        'spec.rules[0].from[0].source.requestPrincipals',
        'expected no requestPrincipals (not supported: request principals need JWT authentication), found a list',
      ),
      err(
        'spec.rules[0].from[0].source.principals[0]',
        'expected a principal without spiffe:// (<trust-domain>/ns/<ns>/sa/<sa>), found the string "spiffe://cluster.local/ns/a/sa/b"',
      ),
    ]);
  });

  it('refuses empty from, empty sources and operations, missing operation, empty strings', () => {
    expect(errors('  rules:\n  - from: []\n    to: [{operation: {}}, {}]')).toEqual([
      err(
        'spec.rules[0].from',
        'expected at least one source (leave the field out to match any), found an empty list',
      ),
      err(
        'spec.rules[0].to[0].operation',
        'expected at least one field, such as ports or paths, found none',
      ),
      err('spec.rules[0].to[1].operation', 'expected a map, found nothing'),
    ]);
    expect(
      errors(
        '  rules:\n  - from: [{source: {namespaces: []}}]\n  - to: [{operation: {paths: [""]}}]',
      ),
    ).toEqual([
      err(
        'spec.rules[0].from[0].source',
        'expected at least one field, such as principals or namespaces, found none',
      ),
      err(
        'spec.rules[1].to[0].operation.paths[0]',
        'expected a non-empty string, found the string ""',
      ),
    ]);
    expect(errors('  rules: [null]')).toEqual([err('spec.rules[0]', 'expected a map, found null')]);
  });

  it('refuses path templates', () => {
    expect(errors('  rules:\n  - to: [{operation: {paths: ["/api/{*}/x"]}}]')).toEqual([
      err(
        'spec.rules[0].to[0].operation.paths[0]',
        'expected a path without templates ({*} and {**} are not supported), found the string "/api/{*}/x"',
      ),
    ]);
  });

  it('checks when keys and their values', () => {
    expect(
      errors(`  rules:
  - when:
    - {key: remote.ip, values: [10.0.0.1]}
    - {key: source.pod, values: [a]}
    - {key: "request.headers[]", values: [a]}
    - {key: source.ip, values: [not-an-ip]}
    - {key: destination.port, notValues: ["99999"]}
    - {key: source.namespace}
`),
    ).toEqual([
      err(
        'spec.rules[0].when[0].key',
        'expected source.ip, source.namespace, source.principal, destination.port or request.headers[<name>], found the string "remote.ip" (an Istio attribute weft does not support)',
      ),
      err(
        'spec.rules[0].when[1].key',
        'expected source.ip, source.namespace, source.principal, destination.port or request.headers[<name>], found the string "source.pod"',
      ),
      err(
        'spec.rules[0].when[2].key',
        'expected source.ip, source.namespace, source.principal, destination.port or request.headers[<name>], found the string "request.headers[]" (a header key names the header in brackets)',
      ),
      err(
        'spec.rules[0].when[3].values[0]',
        'expected an IP address or CIDR, such as 10.0.0.1 or 10.0.0.0/16, found the string "not-an-ip"',
      ),
      err(
        'spec.rules[0].when[4].notValues[0]',
        'expected a port number from 1 to 65535, found the string "99999"',
      ),
      err(
        'spec.rules[0].when[5]',
        'expected values or notValues for source.namespace, found neither',
      ),
    ]);
  });

  it('checks selector labels', () => {
    expect(errors('  selector: {matchLabels: {app: "web*", "-bad": x}}')).toEqual([
      err(
        'spec.selector.matchLabels.app',
        "expected a label value (a string of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty), found the string \"web*\"",
      ),
      err(
        'spec.selector.matchLabels["-bad"]',
        "expected a label key ([prefix/]name: name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; prefix a DNS-1123 subdomain), found the string \"-bad\"",
      ),
    ]);
  });
});

describe('parseAuthorizationPolicy: what weft cannot enforce fails closed', () => {
  it('stands a policy with a field weft does not support in for a deny of what it selects', () => {
    const r = withSpec(
      '  selector: {matchLabels: {app: web}}\n  action: DENY\n  rules:\n  - from: [{source: {requestPrincipals: ["*"]}}]',
    );
    expect(r.policy).toEqual({
      namespace: 'shop',
      name: 'web',
      apiVersion: 'security.istio.io/v1',
      selector: { matchLabels: { app: 'web' } },
      action: 'DENY',
      rules: undefined,
      failClosed: 'weft cannot enforce spec.rules[0].from[0].source.requestPrincipals',
    });
    expect(r.errors.map((e) => [e.field, e.failsClosed])).toEqual([
      ['spec.rules[0].from[0].source.requestPrincipals', true],
    ]);
    expect(r.fallback).toBeUndefined();
  });

  it('turns ALLOW and CUSTOM into a deny, keeps AUDIT (which then audits nothing)', () => {
    const action = (spec: string) => withSpec(spec).policy?.action;
    expect(action('  rules:\n  - to: [{operation: {paths: ["/a/{*}"]}}]')).toBe('DENY');
    expect(action('  action: CUSTOM\n  provider: {name: opa}')).toBe('DENY');
    expect(
      action('  action: AUDIT\n  rules:\n  - when: [{key: remote.ip, values: ["1.2.3.4"]}]'),
    ).toBe('AUDIT');
  });

  it('widens the selection to the namespace when it cannot be read (targetRefs)', () => {
    const r = withSpec(
      '  selector: {matchLabels: {app: web}}\n  targetRefs: [{kind: Service, group: "", name: web}]',
    );
    expect(r.policy?.selector).toBeUndefined();
    expect(r.policy?.failClosed).toBe('weft cannot enforce spec.targetRefs');
  });

  it('offers a stand-in, not a policy, for an invalid one (the last good version comes first)', () => {
    const r = withSpec('  action: DENY\n  rules:\n  - from: [{source: {principal: ["a"]}}]');
    expect(r.policy).toBeUndefined();
    expect(r.errors.map((e) => e.failsClosed)).toEqual([undefined]);
    expect(r.fallback?.failClosed).toBe(
      'weft cannot enforce spec.rules[0].from[0].source.principal',
    );
  });

  it('still stands in for a policy whose name Kubernetes would refuse', () => {
    const r = read(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: Guard_1, namespace: shop}
spec: {action: DENY, selector: {matchLabels: {app: web}}}`);
    expect(r.policy).toBeUndefined();
    expect([r.fallback?.namespace, r.fallback?.name, r.fallback?.selector]).toEqual([
      'shop',
      'Guard_1',
      { matchLabels: { app: 'web' } },
    ]);
  });

  it('never turns an AUDIT policy into a deny, even when its selection cannot be read', () => {
    const r = withSpec(
      '  action: AUDIT\n  selector: {matchLabels: {app: 3}}\n  targetRefs: [{kind: Service, name: web}]',
    );
    expect([r.fallback?.action, r.fallback?.selector]).toEqual(['AUDIT', undefined]);
  });
});
