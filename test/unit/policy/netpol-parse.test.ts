import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseNetworkPolicy } from '../../../agent/src/sources/policy/netpol-parse.ts';
import type { ObjectError } from '../../../agent/src/state/types.ts';

const F = 'policies/shop.yaml';
const O = 'NetworkPolicy shop/np';

const head =
  'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: shop}\n';

/** Parses a policy whose spec is given as YAML (indented by the caller's template). */
const withSpec = (spec: string) => parseNetworkPolicy(F, parse(`${head}spec:\n${spec}`), 0);

const err = (field: string, message: string): ObjectError => ({
  file: F,
  object: O,
  field,
  message,
});

/** The errors of a spec, which must not yield a policy. */
function errors(spec: string): ObjectError[] {
  const r = withSpec(spec);
  expect(r.policy).toBeUndefined();
  return r.errors;
}

describe('parseNetworkPolicy: valid policies and Kubernetes defaults', () => {
  it('reads a full policy', () => {
    const r = withSpec(`
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchExpressions: [{key: tier, operator: In, values: [front]}]}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {protocol: UDP, port: 53}
    - {port: http}
    - {port: 8000, endPort: 9000}
  egress:
  - to: [{podSelector: {}}]
`);
    expect(r.errors).toEqual([]);
    expect(r.policy).toEqual({
      namespace: 'shop',
      name: 'np',
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          peers: [
            {
              namespaceSelector: { matchLabels: { team: 'a' } },
              podSelector: {
                matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }],
              },
            },
            { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 'http' },
            { protocol: 'TCP', port: 8000, endPort: 9000 },
          ],
        },
      ],
      egress: [{ peers: [{ podSelector: {} }], ports: [] }],
    });
  });

  it('defaults namespace, podSelector, policyTypes and an absent spec as Kubernetes does', () => {
    const r = parseNetworkPolicy(
      F,
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny' } },
      0,
    );
    expect(r).toEqual({
      policy: {
        namespace: 'default',
        name: 'deny',
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [],
        egress: [],
      },
      errors: [],
    });
  });

  it('adds Egress to the default policyTypes only when spec.egress has rules', () => {
    expect(withSpec('  egress: [{}]\n').policy?.policyTypes).toEqual(['Ingress', 'Egress']);
    // Kubernetes tests len(spec.egress) != 0: an empty list is as good as none.
    expect(withSpec('  egress: []\n').policy?.policyTypes).toEqual(['Ingress']);
    expect(withSpec('  policyTypes: []\n  egress: [{}]\n').policy?.policyTypes).toEqual([
      'Ingress',
      'Egress',
    ]);
    expect(withSpec('  policyTypes: [Egress]\n').policy?.policyTypes).toEqual(['Egress']);
    expect(withSpec('  policyTypes: [Egress]\n  ingress: [{}]\n').policy).toMatchObject({
      policyTypes: ['Egress'],
      ingress: [{ peers: [], ports: [] }],
    });
  });

  it('reads null rules and ports as empty ones, as Kubernetes decodes them', () => {
    const r = withSpec('  ingress:\n  -\n  - ports: [null, {protocol: UDP}]\n');
    expect(r.policy?.ingress).toEqual([
      { peers: [], ports: [] },
      { peers: [], ports: [{ protocol: 'TCP' }, { protocol: 'UDP' }] },
    ]);
  });

  it('accepts host bits in CIDRs, IPv6 blocks and nested excepts', () => {
    const r = withSpec(`
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.7/8, except: [10.1.2.3/16]}
    - ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}
    - ipBlock: {cidr: 0.0.0.0/0}
`);
    expect(r.errors).toEqual([]);
    expect(r.policy?.ingress[0]?.peers).toEqual([
      { ipBlock: { cidr: '10.0.0.7/8', except: ['10.1.2.3/16'] } },
      { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } },
      { ipBlock: { cidr: '0.0.0.0/0', except: [] } },
    ]);
  });

  it('accepts port and endPort edges', () => {
    const r = withSpec(
      '  ingress: [{ports: [{port: 1, endPort: 65535}, {port: 80, endPort: 80}, {port: 65535}]}]\n',
    );
    expect(r.errors).toEqual([]);
  });
});

describe('parseNetworkPolicy: the object', () => {
  it('refuses what is not a map', () => {
    expect(parseNetworkPolicy(F, 'hello', 2).errors).toEqual([
      {
        file: F,
        object: 'document 3',
        field: '',
        message:
          'expected a NetworkPolicy (a map with apiVersion, kind and metadata), found the string "hello"',
      },
    ]);
  });

  it('checks apiVersion and kind', () => {
    const r = parseNetworkPolicy(
      F,
      parse(
        'apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: shop}\n',
      ),
      0,
    );
    expect(r.errors).toEqual([
      err('apiVersion', 'expected networking.k8s.io/v1, found the string "extensions/v1beta1"'),
    ]);
    const k = parseNetworkPolicy(
      F,
      parse(
        'apiVersion: networking.k8s.io/v1\nkind: Networkpolicy\nmetadata: {name: np, namespace: shop}\n',
      ),
      0,
    );
    expect(k.errors).toEqual([
      err('kind', 'expected NetworkPolicy, found the string "Networkpolicy"'),
    ]);
  });

  it('names the document when the metadata names nothing', () => {
    const r = parseNetworkPolicy(
      F,
      parse('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'),
      0,
    );
    expect(r.errors).toEqual([
      {
        file: F,
        object: 'document 1',
        field: 'metadata',
        message: 'expected a map with name and namespace, found nothing',
      },
    ]);
    const n = parseNetworkPolicy(
      F,
      parse('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: shop}\n'),
      4,
    );
    expect(n.errors).toEqual([
      {
        file: F,
        object: 'document 5',
        field: 'metadata.name',
        message:
          "expected a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and '-', at most 253 characters), found nothing",
      },
    ]);
  });

  it('checks the name and namespace', () => {
    const r = parseNetworkPolicy(
      F,
      parse(
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: Deny_All, namespace: Shop}\n',
      ),
      0,
    );
    expect(r.errors).toEqual([
      {
        file: F,
        object: 'NetworkPolicy Shop/Deny_All',
        field: 'metadata.name',
        message:
          'expected a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and \'-\', at most 253 characters), found the string "Deny_All"',
      },
      {
        file: F,
        object: 'NetworkPolicy Shop/Deny_All',
        field: 'metadata.namespace',
        message:
          'expected a DNS-1123 label (lowercase letters, digits and \'-\', starting and ending with a letter or digit, at most 63 characters), found the string "Shop"',
      },
    ]);
  });

  it('refuses unknown fields, which could silently widen a policy', () => {
    const r = parseNetworkPolicy(
      F,
      parse(
        `${head}specs: {}\nspec:\n  podselector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, excepts: [10.1.0.0/16]}}], port: [{port: 80}]}]\n`,
      ),
      0,
    );
    expect(r.errors).toEqual([
      err(
        'specs',
        'expected only apiVersion, kind, metadata, spec, status, found the field "specs"',
      ),
      err(
        'spec.podselector',
        'expected only podSelector, policyTypes, ingress, egress, found the field "podselector"',
      ),
      err('spec.ingress[0].port', 'expected only from, ports, found the field "port"'),
      err(
        'spec.ingress[0].from[0].ipBlock.excepts',
        'expected only cidr, except, found the field "excepts"',
      ),
    ]);
    expect(errors('  egress: [{from: [{podSelector: {}}]}]\n')).toEqual([
      err('spec.egress[0].from', 'expected only to, ports, found the field "from"'),
    ]);
    expect(errors('  ingress: [{from: [{podSelector: {}, namespaceselector: {}}]}]\n')).toEqual([
      err(
        'spec.ingress[0].from[0].namespaceselector',
        'expected only podSelector, namespaceSelector, ipBlock, found the field "namespaceselector"',
      ),
    ]);
    expect(errors('  ingress: [{ports: [{port: 80, endport: 90}]}]\n')).toEqual([
      err(
        'spec.ingress[0].ports[0].endport',
        'expected only protocol, port, endPort, found the field "endport"',
      ),
    ]);
  });

  it('checks the shape of spec and its lists', () => {
    expect(errors('  []\n')).toEqual([err('spec', 'expected a map, found a list')]);
    expect(errors('  ingress: {from: []}\n  egress: [allow]\n')).toEqual([
      err('spec.ingress', 'expected a list, found a map'),
      err('spec.egress[0]', 'expected a rule (a map with to and ports), found the string "allow"'),
    ]);
    expect(errors('  ingress: [{from: {podSelector: {}}, ports: 80}]\n')).toEqual([
      err('spec.ingress[0].from', 'expected a list, found a map'),
      err('spec.ingress[0].ports', 'expected a list, found the number 80'),
    ]);
  });
});

describe('parseNetworkPolicy: selectors and policyTypes', () => {
  it('reports selector mistakes at their full path', () => {
    expect(
      errors('  podSelector: {matchExpressions: [{key: app, operator: Equals, values: [web]}]}\n'),
    ).toEqual([
      err(
        'spec.podSelector.matchExpressions[0].operator',
        'expected In, NotIn, Exists or DoesNotExist, found the string "Equals"',
      ),
    ]);
    expect(
      errors(
        '  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists, values: [a]}]}}]}]\n',
      ),
    ).toEqual([
      err(
        'spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values',
        'expected no values for Exists, found 1',
      ),
    ]);
    expect(errors('  egress: [{to: [{podSelector: {matchLabels: {app: [web]}}}]}]\n')).toEqual([
      err(
        'spec.egress[0].to[0].podSelector.matchLabels.app',
        'expected a string (quote it), found a list',
      ),
    ]);
  });

  it('rejects unknown policyTypes and more than two', () => {
    expect(errors('  policyTypes: [ingress]\n')).toEqual([
      err('spec.policyTypes[0]', 'expected Ingress or Egress, found the string "ingress"'),
    ]);
    expect(errors('  policyTypes: [Ingress, Egress, Ingress]\n')).toEqual([
      err('spec.policyTypes', 'expected at most two policyTypes (Ingress, Egress), found 3'),
    ]);
    expect(errors('  policyTypes: Ingress\n')).toEqual([
      err('spec.policyTypes', 'expected a list, found the string "Ingress"'),
    ]);
  });
});

describe('parseNetworkPolicy: peers', () => {
  it('needs a peer to name something', () => {
    expect(errors('  ingress: [{from: [{}, null]}]\n')).toEqual([
      err(
        'spec.ingress[0].from[0]',
        'expected podSelector, namespaceSelector or ipBlock, found none of them',
      ),
      err(
        'spec.ingress[0].from[1]',
        'expected podSelector, namespaceSelector or ipBlock, found none of them',
      ),
    ]);
    expect(errors('  ingress: [{from: [web]}]\n')).toEqual([
      err(
        'spec.ingress[0].from[0]',
        'expected a peer (a map with podSelector, namespaceSelector or ipBlock), found the string "web"',
      ),
    ]);
  });

  it('refuses ipBlock combined with selectors in one peer', () => {
    expect(errors('  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]\n')).toEqual([
      err('spec.egress[0].to[0]', 'expected ipBlock alone, found it combined with podSelector'),
    ]);
    expect(
      errors(
        '  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}, namespaceSelector: {}}]}]\n',
      ),
    ).toEqual([
      err(
        'spec.egress[0].to[0]',
        'expected ipBlock alone, found it combined with podSelector and namespaceSelector',
      ),
    ]);
  });

  it('checks CIDRs', () => {
    const at = (i: number) => `spec.ingress[0].from[${i}].ipBlock.cidr`;
    expect(
      errors(`  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0}
    - ipBlock: {cidr: 10.0.0.0/33}
    - ipBlock: {cidr: "2001:db8::/129"}
    - ipBlock: {cidr: 300.0.0.0/8}
    - ipBlock: {cidr: ""}
    - ipBlock: {}
    - ipBlock: 10.0.0.0/8
`),
    ).toEqual([
      err(
        at(0),
        'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32, found the string "10.0.0.0"',
      ),
      err(
        at(1),
        'expected a prefix length from 0 to 32 after an IPv4 address, found the string "10.0.0.0/33"',
      ),
      err(
        at(2),
        'expected a prefix length from 0 to 128 after an IPv6 address, found the string "2001:db8::/129"',
      ),
      err(
        at(3),
        'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32, found the string "300.0.0.0/8"',
      ),
      err(at(4), 'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32, found the string ""'),
      err(at(5), 'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32, found nothing'),
      err(
        'spec.ingress[0].from[6].ipBlock',
        'expected a map with cidr and except, found the string "10.0.0.0/8"',
      ),
    ]);
  });

  it('wants every except strictly inside its cidr', () => {
    const at = (j: number) => `spec.ingress[0].from[0].ipBlock.except[${j}]`;
    const inside = 'expected a block strictly inside cidr 10.0.0.0/16 (within it and smaller)';
    expect(
      errors(`  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.1.0/24, 10.1.0.0/24, 10.0.0.0/16, 10.0.0.0/8, "2001:db8::/64", 10.0.1.0/40, 7]
`),
    ).toEqual([
      err(at(1), `${inside}, found the string "10.1.0.0/24"`),
      err(at(2), `${inside}, found the string "10.0.0.0/16"`),
      err(at(3), `${inside}, found the string "10.0.0.0/8"`),
      err(at(4), `${inside}, found the string "2001:db8::/64"`),
      err(
        at(5),
        'expected a prefix length from 0 to 32 after an IPv4 address, found the string "10.0.1.0/40"',
      ),
      err(at(6), 'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32, found the number 7'),
    ]);
    expect(
      errors(
        '  ingress: [{from: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db9::/48"]}}]}]\n',
      ),
    ).toEqual([
      err(
        at(0),
        'expected a block strictly inside cidr 2001:db8::/32 (within it and smaller), found the string "2001:db9::/48"',
      ),
    ]);
  });
});

describe('parseNetworkPolicy: ports', () => {
  const numOrName =
    "expected a port number from 1 to 65535 or a port name (at most 15 lowercase letters, digits and '-', with at least one letter, no '--', not starting or ending with '-')";
  const at = (j: number, f: string) => `spec.ingress[0].ports[${j}].${f}`;

  it('checks port numbers and names', () => {
    expect(
      errors(`  ingress:
  - ports:
    - port: 0
    - port: 65536
    - port: "80"
    - port: http--alt
    - port: -http
    - port: a-very-long-port-name
    - port: 80.5
`),
    ).toEqual([
      err(at(0, 'port'), `${numOrName}, found the number 0`),
      err(at(1, 'port'), `${numOrName}, found the number 65536`),
      err(at(2, 'port'), `${numOrName}, found the string "80"`),
      err(at(3, 'port'), `${numOrName}, found the string "http--alt"`),
      err(at(4, 'port'), `${numOrName}, found the string "-http"`),
      err(at(5, 'port'), `${numOrName}, found the string "a-very-long-port-name"`),
      err(at(6, 'port'), `${numOrName}, found the number 80.5`),
    ]);
  });

  it('checks protocols', () => {
    expect(errors('  ingress: [{ports: [{protocol: tcp, port: 80}, {protocol: ICMP}]}]\n')).toEqual(
      [
        err(
          at(0, 'protocol'),
          'expected TCP or UDP (SCTP is not enforced by weft), found the string "tcp"',
        ),
        err(
          at(1, 'protocol'),
          'expected TCP or UDP (SCTP is not enforced by weft), found the string "ICMP"',
        ),
      ],
    );
  });

  it('refuses SCTP by name: weft would parse it and never enforce it', () => {
    expect(
      errors('  egress: [{ports: [{protocol: UDP, port: 53}, {protocol: SCTP, port: 9}]}]\n'),
    ).toEqual([
      err(
        'spec.egress[0].ports[1].protocol',
        'expected TCP or UDP, found SCTP: weft enforces NetworkPolicy for TCP and UDP only, and refuses a policy it would not enforce',
      ),
    ]);
  });

  it('allows endPort only with a numeric port it does not undercut', () => {
    expect(
      errors(`  ingress:
  - ports:
    - endPort: 90
    - {port: http, endPort: 90}
    - {port: 80, endPort: 79}
    - {port: 80, endPort: 70000}
`),
    ).toEqual([
      err(at(0, 'endPort'), 'expected endPort only with a numeric port, found it without port'),
      err(
        at(1, 'endPort'),
        'expected endPort only with a numeric port, found it with the named port "http"',
      ),
      err(at(2, 'endPort'), 'expected a port of at least port (80), found the number 79'),
      err(at(3, 'endPort'), 'expected a port number from 1 to 65535, found the number 70000'),
    ]);
  });

  it('reports errors in egress rules at their path', () => {
    expect(
      errors('  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 0}]}]\n'),
    ).toEqual([err('spec.egress[0].ports[0].port', `${numOrName}, found the number 0`)]);
  });
});
