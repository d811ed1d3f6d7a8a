// The Kubernetes network policy e2e scenarios (test/e2e/network/netpol) as a truth
// table over namespaces x, y, z with pods a, b, c each, plus the details of decisions.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type Endpoint,
  evaluateNetworkPolicies,
  type NetpolInput,
} from '../../../agent/src/policy/netpol-eval.ts';
import { parseNetworkPolicy } from '../../../agent/src/sources/policy/netpol-parse.ts';
import type { NetworkPolicy, Protocol } from '../../../agent/src/state/netpol-types.ts';
import type { ContainerPort } from '../../../agent/src/state/types.ts';

/** A policy from YAML (apiVersion and kind added); fails the test when it does not parse. */
function np(yaml: string): NetworkPolicy {
  const r = parseNetworkPolicy(
    't.yaml',
    parse(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n${yaml}`),
    0,
  );
  expect(r.errors).toEqual([]);
  return r.policy!;
}

const nsNames = ['x', 'y', 'z'];
const podNames = ['a', 'b', 'c'];
const namespaces = new Map(nsNames.map((n) => [n, { labels: { ns: n } }]));

// As the e2e servers: ports 80 and 81 on each protocol, named serve-<port>-<protocol>.
const containerPorts: ContainerPort[] = (['TCP', 'UDP', 'SCTP'] as const).flatMap((protocol) =>
  [80, 81].map((containerPort) => ({
    name: `serve-${containerPort}-${protocol.toLowerCase()}`,
    containerPort,
    protocol,
  })),
);

const pods: Endpoint[] = nsNames.flatMap((namespace, i) =>
  podNames.map((name, j) => ({
    ip: `10.0.${i + 1}.${j + 1}`,
    pod: { namespace, name, labels: { pod: name }, ports: containerPorts },
  })),
);
const id = (e: Endpoint) => `${e.pod?.namespace}/${e.pod?.name}`;

/** Both ends must agree: the client's egress and the server's ingress. */
function connects(
  policies: NetworkPolicy[],
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol: Protocol,
) {
  const base = { policies, namespaces, port, protocol };
  const out = evaluateNetworkPolicies({ ...base, direction: 'egress', subject: from, peer: to });
  const inn = evaluateNetworkPolicies({ ...base, direction: 'ingress', subject: to, peer: from });
  return out.verdict === 'allow' && inn.verdict === 'allow';
}

type Pair = (from: string, to: string) => boolean;
const pairs = pods.flatMap((f) => pods.filter((t) => t !== f).map((t) => [f, t] as const));

/** The denied connections (client→server) of the whole mesh; self-connections left out. */
function denied(policies: NetworkPolicy[], port = 80, protocol: Protocol = 'TCP'): string[] {
  return pairs
    .filter(([f, t]) => !connects(policies, f, t, port, protocol))
    .map(([f, t]) => `${id(f)}→${id(t)}`);
}

/** The pairs a predicate says are denied, in the same order. */
function expectDenied(deny: Pair): string[] {
  return pairs.filter(([f, t]) => deny(id(f), id(t))).map(([f, t]) => `${id(f)}→${id(t)}`);
}

const none: Pair = () => false;
const ns = (key: string) => key.split('/')[0];

describe('truth table: the Kubernetes e2e scenarios', () => {
  it('no policy: everything connects', () => {
    expect(denied([])).toEqual(expectDenied(none));
  });

  it("default-deny-ingress: nothing reaches x's pods, x's pods reach out", () => {
    const p = np('metadata: {name: deny-ingress, namespace: x}\nspec: {podSelector: {}}\n');
    expect(p.policyTypes).toEqual(['Ingress']);
    expect(denied([p])).toEqual(expectDenied((_, t) => ns(t) === 'x'));
  });

  it('default-deny-egress: x reaches nothing, and is reached', () => {
    const p = np(
      'metadata: {name: deny-egress, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress]}\n',
    );
    expect(denied([p])).toEqual(expectDenied((f) => ns(f) === 'x'));
  });

  it('default-deny-all: x neither reaches nor is reached', () => {
    const p = np(
      'metadata: {name: deny-all, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n',
    );
    expect(denied([p])).toEqual(expectDenied((f, t) => ns(f) === 'x' || ns(t) === 'x'));
  });

  it('allow-all ingress beside a default deny: rules are a union', () => {
    const deny = np('metadata: {name: deny, namespace: x}\nspec: {podSelector: {}}\n');
    const all = np(
      'metadata: {name: allow-all, namespace: x}\nspec: {podSelector: {}, ingress: [{}]}\n',
    );
    expect(denied([deny, all])).toEqual(expectDenied(none));
  });

  it('podSelector peer: pods of the policy namespace only', () => {
    const p = np(`metadata: {name: allow-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && f !== 'x/b'));
  });

  it('podSelector {} peer: every pod of the namespace, none of the others', () => {
    const p = np(`metadata: {name: same-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => ns(t) === 'x' && ns(f) !== 'x'));
  });

  it('namespaceSelector peer: every pod of the matching namespaces', () => {
    const p = np(`metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && ns(f) !== 'y'));
  });

  it('namespaceSelector on the label every namespace has: kubernetes.io/metadata.name', () => {
    const p = np(`metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && ns(f) !== 'y'));
  });

  it('namespaceSelector {}: every pod of every namespace', () => {
    const p = np(`metadata: {name: any-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
`);
    expect(denied([p])).toEqual(expectDenied(none));
  });

  it('podSelector with matchExpressions', () => {
    const p = np(`metadata: {name: in-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && f !== 'x/b'));
  });

  it('namespaceSelector with matchExpressions (NotIn)', () => {
    const p = np(`metadata: {name: not-x, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && ns(f) === 'x'));
  });

  it('Exists and DoesNotExist select the pods the policy applies to', () => {
    const p = np(`metadata: {name: exists, namespace: x}
spec:
  podSelector: {matchExpressions: [{key: pod, operator: Exists}, {key: legacy, operator: DoesNotExist}]}
`);
    expect(denied([p])).toEqual(expectDenied((_, t) => ns(t) === 'x'));
  });

  it('podSelector OR namespaceSelector: two peers', () => {
    const p = np(`metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}
    - podSelector: {matchLabels: {pod: b}}
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => t === 'x/a' && f === 'x/c'));
  });

  it('podSelector AND namespaceSelector: one peer', () => {
    const p = np(`metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}
      podSelector: {matchLabels: {pod: b}}
`);
    expect(denied([p])).toEqual(
      expectDenied((f, t) => t === 'x/a' && !(f === 'y/b' || f === 'z/b')),
    );
  });

  it('ports: only the listed port', () => {
    const p = np(`metadata: {name: port-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 81}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied((_, t) => t === 'x/a'));
    expect(denied([p], 81)).toEqual(expectDenied(none));
  });

  it('stacked policies with overlapping podSelectors: the union of their rules', () => {
    const p80 = np(`metadata: {name: p80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 80}]}]
`);
    const p81 = np(`metadata: {name: p81, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}], ports: [{port: 81}]}]
`);
    expect(denied([p80, p81], 80)).toEqual(
      expectDenied((f, t) => ns(t) === 'x' && !(t === 'x/a' && ns(f) === 'y')),
    );
    expect(denied([p80, p81], 81)).toEqual(expectDenied((f, t) => ns(t) === 'x' && ns(f) !== 'z'));
  });

  it('named port on ingress: resolves against the server pod', () => {
    const p = np(`metadata: {name: named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: serve-80-tcp}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied(none));
    expect(denied([p], 81)).toEqual(expectDenied((_, t) => t === 'x/a'));
    expect(denied([p], 80, 'UDP')).toEqual(expectDenied((_, t) => t === 'x/a'));
  });

  it('named port the server does not have: matches nothing', () => {
    const p = np(`metadata: {name: named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: serve-82-tcp}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied((_, t) => t === 'x/a'));
  });

  it('named port from a namespace', () => {
    const p = np(`metadata: {name: named-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: serve-80-tcp}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied((f, t) => ns(t) === 'x' && ns(f) !== 'y'));
    expect(denied([p], 81)).toEqual(expectDenied((_, t) => ns(t) === 'x'));
  });

  it('named port on egress: resolves against the destination pod', () => {
    const p = np(`metadata: {name: named-egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: serve-80-udp, protocol: UDP}]}]
`);
    expect(denied([p], 80, 'UDP')).toEqual(expectDenied(none));
    expect(denied([p], 81, 'UDP')).toEqual(expectDenied((f) => f === 'x/a'));
    expect(denied([p], 80, 'TCP')).toEqual(expectDenied((f) => f === 'x/a'));
  });

  it('endPort: a range, both edges included', () => {
    const p = np(`metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80, endPort: 81}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied(none));
    expect(denied([p], 81)).toEqual(expectDenied(none));
    expect(denied([p], 79)).toEqual(expectDenied((_, t) => ns(t) === 'x'));
    expect(denied([p], 82)).toEqual(expectDenied((_, t) => ns(t) === 'x'));
  });

  it('any port of one protocol', () => {
    const p = np(`metadata: {name: udp, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: UDP}]}]
`);
    expect(denied([p], 80, 'UDP')).toEqual(expectDenied(none));
    expect(denied([p], 81, 'UDP')).toEqual(expectDenied(none));
    expect(denied([p], 80, 'TCP')).toEqual(expectDenied((_, t) => ns(t) === 'x'));
  });

  it('SCTP is not TCP, and a pod allowing only SCTP is isolated for TCP', () => {
    // Built by hand: the parser refuses SCTP (weft does not enforce it), but the
    // evaluator keeps Kubernetes' semantics for it.
    const p: NetworkPolicy = {
      namespace: 'x',
      name: 'sctp',
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Ingress'],
      ingress: [{ peers: [], ports: [{ protocol: 'SCTP', port: 80 }] }],
      egress: [],
    };
    expect(denied([p], 80, 'SCTP')).toEqual(expectDenied(none));
    expect(denied([p], 80, 'TCP')).toEqual(expectDenied((_, t) => t === 'x/a'));
  });

  it('deny egress from one pod by podSelector', () => {
    const p = np(`metadata: {name: a-no-egress, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}
`);
    expect(denied([p])).toEqual(expectDenied((f) => f === 'x/a'));
  });

  it('egress to given ports', () => {
    const p = np(`metadata: {name: egress-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 80}]}]
`);
    expect(denied([p], 80)).toEqual(expectDenied(none));
    expect(denied([p], 81)).toEqual(expectDenied((f) => f === 'x/a'));
  });

  it('egress to a pod of another namespace by podSelector AND namespaceSelector', () => {
    const p = np(`metadata: {name: to-y-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => f === 'x/a' && t !== 'y/b'));
  });

  it("the client's egress deny wins over the server's ingress allow", () => {
    const out = np(
      'metadata: {name: deny-egress, namespace: x}\nspec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}\n',
    );
    const inn = np(
      'metadata: {name: allow-all, namespace: y}\nspec: {podSelector: {}, ingress: [{}]}\n',
    );
    expect(denied([out, inn])).toEqual(expectDenied((f) => f === 'x/a'));
  });

  it('Ingress and Egress together, and each direction on its own', () => {
    const both = np(`metadata: {name: both, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: z}}}]}]
`);
    expect(denied([both])).toEqual(
      expectDenied((f, t) => (t === 'x/a' && ns(f) !== 'y') || (f === 'x/a' && ns(t) !== 'z')),
    );
  });

  it('policyTypes default: egress rules add Egress, and with no ingress rules ingress is denied', () => {
    const p = np(`metadata: {name: egress-only-rules, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{podSelector: {}}]}]
`);
    expect(p.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(denied([p])).toEqual(
      expectDenied((f, t) => t === 'x/a' || (f === 'x/a' && ns(t) !== 'x')),
    );
  });

  it('a policy that selects no pod isolates nothing', () => {
    const p = np(
      'metadata: {name: nobody, namespace: x}\nspec: {podSelector: {matchLabels: {pod: nobody}}, policyTypes: [Ingress, Egress]}\n',
    );
    expect(denied([p])).toEqual(expectDenied(none));
  });

  it('a policy isolates pods of its own namespace only', () => {
    const p = np(
      'metadata: {name: deny, namespace: y}\nspec: {podSelector: {matchLabels: {pod: a}}}\n',
    );
    expect(denied([p])).toEqual(expectDenied((_, t) => t === 'y/a'));
  });

  it('allow-all egress among restrictive egress policies: still the union', () => {
    const narrow = np(`metadata: {name: narrow, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]
`);
    const all = np(
      'metadata: {name: all, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n',
    );
    expect(denied([narrow])).toEqual(expectDenied((f, t) => f === 'x/a' && t !== 'x/b'));
    expect(denied([narrow, all])).toEqual(expectDenied(none));
  });

  it('egress to a CIDR block', () => {
    const p = np(`metadata: {name: cidr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.2.2/32}}]}]
`);
    expect(denied([p])).toEqual(expectDenied((f, t) => f === 'x/a' && t !== 'y/b'));
  });

  it('egress to a CIDR block with an except', () => {
    const p = np(`metadata: {name: cidr-except, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.2/32]}}]}]
`);
    expect(denied([p])).toEqual(
      expectDenied((f, t) => f === 'x/a' && (ns(t) !== 'y' || t === 'y/b')),
    );
  });

  it('an address in both cidr and except of one policy is allowed by another', () => {
    const p1 = np(`metadata: {name: except-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.2/32]}}]}]
`);
    const p2 = np(`metadata: {name: only-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.2.2/32}}]}]
`);
    expect(denied([p1, p2])).toEqual(expectDenied((f, t) => f === 'x/a' && ns(t) !== 'y'));
  });
});

// --- single decisions: reasons, indices, edges ----------------------------------------

const web: Endpoint = {
  ip: '10.0.0.5',
  pod: {
    namespace: 'shop',
    name: 'web-1',
    labels: { app: 'web' },
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  },
};
const outside: Endpoint = { ip: '203.0.113.9' };

function decide(over: Partial<NetpolInput>) {
  return evaluateNetworkPolicies({
    policies: [],
    namespaces: new Map([['shop', { labels: {} }]]),
    direction: 'ingress',
    subject: web,
    peer: outside,
    port: 8080,
    protocol: 'TCP',
    ...over,
  });
}

describe('decisions and their reasons', () => {
  const denyAll = np('metadata: {name: default-deny, namespace: shop}\nspec: {podSelector: {}}\n');

  it('allows, unisolated, when no policy selects the pod', () => {
    expect(decide({})).toEqual({
      verdict: 'allow',
      isolated: false,
      reason: 'allowed: no policy selects shop/web-1 (10.0.0.5) for ingress',
      selectedBy: [],
    });
  });

  it('allows traffic of an address that is no pod: policies select pods', () => {
    expect(decide({ policies: [denyAll], subject: outside, peer: web })).toEqual({
      verdict: 'allow',
      isolated: false,
      reason: 'allowed: 203.0.113.9 is not a pod, and NetworkPolicy applies to pods only',
      selectedBy: [],
    });
  });

  it('denies, naming the selecting policies and the connection', () => {
    const other = np(
      'metadata: {name: web-only, namespace: shop}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 9090}]}]}\n',
    );
    expect(decide({ policies: [denyAll, other] })).toEqual({
      verdict: 'deny',
      isolated: true,
      reason:
        'denied: shop/web-1 (10.0.0.5) is selected by shop/default-deny, shop/web-only for ingress, and no rule allows 203.0.113.9 → 10.0.0.5:8080/TCP',
      selectedBy: ['shop/default-deny', 'shop/web-only'],
    });
  });

  it('names the first allowing policy, rule, peer and port', () => {
    const p = np(`metadata: {name: allow-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 192.0.2.0/24}}]
  - from: [{podSelector: {}}, {ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
    ports: [{port: 80}, {port: http}]
`);
    expect(decide({ policies: [denyAll, p] })).toEqual({
      verdict: 'allow',
      isolated: true,
      reason:
        'allowed: shop/allow-web ingress rule 1 (from[1] ipBlock 203.0.113.0/24 except 203.0.113.128/25, ports[1] http/TCP) allows 203.0.113.9 → 10.0.0.5:8080/TCP',
      selectedBy: ['shop/default-deny', 'shop/allow-web'],
      matched: { policy: 'shop/allow-web', rule: 1, peer: 1, port: 1 },
    });
  });

  it('leaves peer and port out of the match when the rule lists none', () => {
    const p = np(
      'metadata: {name: open, namespace: shop}\nspec: {podSelector: {}, ingress: [{}]}\n',
    );
    const d = decide({ policies: [p] });
    expect(d.matched).toEqual({ policy: 'shop/open', rule: 0 });
    expect(d.reason).toBe(
      'allowed: shop/open ingress rule 0 (any source, any port) allows 203.0.113.9 → 10.0.0.5:8080/TCP',
    );
  });

  it('explains egress from the source side, selectors spelt out', () => {
    const p = np(`metadata: {name: to-db, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {team: data}}, podSelector: {matchExpressions: [{key: app, operator: In, values: [db, cache]}]}}], ports: [{port: 5000, endPort: 6000}]}]
`);
    const db: Endpoint = { ip: '10.0.9.9', pod: { namespace: 'data', labels: { app: 'db' } } };
    const d = decide({
      policies: [p],
      direction: 'egress',
      peer: db,
      port: 5432,
      namespaces: new Map([['data', { labels: { team: 'data' } }]]),
    });
    expect(d.reason).toBe(
      'allowed: shop/to-db egress rule 0 (to[0] namespaceSelector {team=data} and podSelector {app in (db,cache)}, ports[0] 5000-6000/TCP) allows 10.0.0.5 → 10.0.9.9:5432/TCP',
    );
    expect(decide({ policies: [p], direction: 'egress', peer: db, port: 5432 }).reason).toBe(
      'denied: shop/web-1 (10.0.0.5) is selected by shop/to-db for egress, and no rule allows 10.0.0.5 → 10.0.9.9:5432/TCP',
    );
  });

  it('names an unnamed pod by its address and namespace', () => {
    const anon: Endpoint = { ip: '10.0.0.6', pod: { namespace: 'shop', labels: {} } };
    expect(decide({ subject: anon }).reason).toBe(
      'allowed: no policy selects the pod at 10.0.0.6 in shop for ingress',
    );
  });

  it('ignores rules of the other direction and policies without its type', () => {
    const p = np(
      'metadata: {name: egress-only, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Egress], ingress: [{}]}\n',
    );
    expect(decide({ policies: [p] })).toMatchObject({
      verdict: 'allow',
      isolated: false,
      selectedBy: [],
    });
    expect(
      decide({ policies: [p], direction: 'egress', subject: web, peer: outside }),
    ).toMatchObject({
      verdict: 'deny',
      selectedBy: ['shop/egress-only'],
    });
  });
});

describe('peer matching edges', () => {
  const policy = (from: string) =>
    np(
      `metadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{from: [${from}]}]\n`,
    );
  const verdict = (from: string, peer: Endpoint, over: Partial<NetpolInput> = {}) =>
    decide({ policies: [policy(from)], peer, ...over }).verdict;

  it('selector peers never match an address that is no pod', () => {
    expect(verdict('{podSelector: {}}', outside)).toBe('deny');
    expect(verdict('{namespaceSelector: {}}', outside)).toBe('deny');
  });

  it('ipBlock matches pods by address too', () => {
    expect(
      verdict('{ipBlock: {cidr: 10.0.0.0/8}}', {
        ip: '10.2.0.1',
        pod: { namespace: 'other', labels: {} },
      }),
    ).toBe('allow');
  });

  it('ipBlock with except, IPv4', () => {
    const from = '{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.4/32]}}';
    expect(verdict(from, { ip: '10.0.0.1' })).toBe('allow');
    expect(verdict(from, { ip: '10.255.255.255' })).toBe('allow');
    expect(verdict(from, { ip: '10.1.0.0' })).toBe('deny');
    expect(verdict(from, { ip: '10.1.255.255' })).toBe('deny');
    expect(verdict(from, { ip: '10.2.3.4' })).toBe('deny');
    expect(verdict(from, { ip: '10.2.3.5' })).toBe('allow');
    expect(verdict(from, { ip: '11.0.0.0' })).toBe('deny');
    // An IPv4-mapped IPv6 source is its IPv4 address.
    expect(verdict(from, { ip: '::ffff:10.0.0.1' })).toBe('allow');
    expect(verdict(from, { ip: '::ffff:10.1.0.1' })).toBe('deny');
  });

  it('ipBlock with except, IPv6', () => {
    const from = '{ipBlock: {cidr: "fd00::/8", except: ["fd00:1::/32"]}}';
    expect(verdict(from, { ip: 'fd12::1' })).toBe('allow');
    expect(verdict(from, { ip: 'fd00:1::1' })).toBe('deny');
    expect(verdict(from, { ip: 'fd00:2::1' })).toBe('allow');
    expect(verdict(from, { ip: 'fe00::1' })).toBe('deny');
    expect(verdict(from, { ip: '10.0.0.1' })).toBe('deny');
  });

  it('a namespace missing from the map still has its name label', () => {
    const from = '{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ghost}}}';
    expect(verdict(from, { ip: '10.3.0.1', pod: { namespace: 'ghost', labels: {} } })).toBe(
      'allow',
    );
  });

  it('the name label cannot be overridden by the namespace labels', () => {
    const from = '{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}';
    const namespaces = new Map([['evil', { labels: { 'kubernetes.io/metadata.name': 'shop' } }]]);
    expect(
      verdict(from, { ip: '10.3.0.1', pod: { namespace: 'evil', labels: {} } }, { namespaces }),
    ).toBe('deny');
  });
});

describe('port matching edges', () => {
  const policy = (ports: string, direction: 'ingress' | 'egress' = 'ingress') =>
    np(
      direction === 'ingress'
        ? `metadata: {name: p, namespace: shop}\nspec: {podSelector: {}, ingress: [{ports: [${ports}]}]}\n`
        : `metadata: {name: p, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [${ports}]}]}\n`,
    );

  it('endPort edges', () => {
    const p = policy('{port: 32000, endPort: 32768}');
    for (const [port, v] of [
      [31999, 'deny'],
      [32000, 'allow'],
      [32400, 'allow'],
      [32768, 'allow'],
      [32769, 'deny'],
    ] as const)
      expect([port, decide({ policies: [p], port }).verdict]).toEqual([port, v]);
  });

  it('a named port needs the name, the protocol and the number on the destination', () => {
    expect(decide({ policies: [policy('{port: http}')], port: 8080 }).verdict).toBe('allow');
    expect(decide({ policies: [policy('{port: http}')], port: 80 }).verdict).toBe('deny');
    expect(
      decide({ policies: [policy('{port: http, protocol: UDP}')], port: 8080, protocol: 'UDP' })
        .verdict,
    ).toBe('deny');
    expect(decide({ policies: [policy('{port: metrics}')], port: 8080 }).verdict).toBe('deny');
  });

  it('a named egress port never matches a destination that is no pod', () => {
    const p = policy('{port: http}', 'egress');
    expect(decide({ policies: [p], direction: 'egress', peer: outside, port: 8080 }).verdict).toBe(
      'deny',
    );
    // Nor does the source's own port of that name count.
    expect(
      decide({
        policies: [p],
        direction: 'egress',
        peer: { ip: '10.0.0.7', pod: { namespace: 'shop', labels: {} } },
        port: 8080,
      }).verdict,
    ).toBe('deny');
    expect(
      decide({ policies: [p], direction: 'egress', subject: web, peer: web, port: 8080 }).verdict,
    ).toBe('allow');
  });
});
