import { describe, expect, it } from 'vitest';
import { ap, evaluate, plaintext } from './authz-fixtures.ts';

const allowAll = (ns = 'shop', name = 'allow-all') => ap(ns, name, { rules: [{}] });
const fromNs = (ns: string) => ({ from: [{ source: { namespaces: [ns] } }] });

describe('evaluateAuthorization: order of stages', () => {
  it('allows when no policy applies, and says so at every stage', () => {
    expect(evaluate([])).toEqual({
      verdict: 'allow',
      stages: [
        {
          stage: 'DENY',
          result: 'not-applicable',
          reason: 'no DENY policy applies to the workload',
        },
        {
          stage: 'ALLOW',
          result: 'default-allow',
          reason: 'no ALLOW policy applies to the workload',
        },
        {
          stage: 'AUDIT',
          result: 'not-applicable',
          reason: 'no AUDIT policy applies to the workload',
        },
      ],
      audited: [],
    });
  });

  it('denies on a DENY match before looking at ALLOW policies', () => {
    const deny = ap('shop', 'deny-front', { action: 'DENY', rules: [fromNs('front')] });
    const d = evaluate([allowAll(), deny]);
    expect(d.verdict).toBe('deny');
    expect(d.stages).toEqual([
      {
        stage: 'DENY',
        policy: 'shop/deny-front',
        rule: 0,
        result: 'match',
        reason: 'denied by DENY policy shop/deny-front rule 0',
      },
      {
        stage: 'AUDIT',
        result: 'not-applicable',
        reason: 'no AUDIT policy applies to the workload',
      },
    ]);
  });

  it('goes on to ALLOW when no DENY rule matches, and explains each miss', () => {
    const deny = ap('shop', 'deny-back', { action: 'DENY', rules: [fromNs('back')] });
    const d = evaluate([deny, allowAll()]);
    expect(d.verdict).toBe('allow');
    expect(d.stages.slice(0, 2)).toEqual([
      {
        stage: 'DENY',
        result: 'no-match',
        reason:
          'no DENY rule matches: shop/deny-back rule 0: from[0].source.namespaces ["back"] do not match namespace "front"',
      },
      {
        stage: 'ALLOW',
        policy: 'shop/allow-all',
        rule: 0,
        result: 'match',
        reason: 'allowed by ALLOW policy shop/allow-all rule 0',
      },
    ]);
  });

  it('makes the workload default-deny once an ALLOW policy selects it', () => {
    const d = evaluate([ap('shop', 'allow-back', { rules: [fromNs('back'), fromNs('ops')] })]);
    expect(d.verdict).toBe('deny');
    expect(d.stages[1]).toEqual({
      stage: 'ALLOW',
      result: 'default-deny',
      reason:
        'default deny because ALLOW policies select this workload (shop/allow-back) and no rule matches: ' +
        'shop/allow-back rule 0: from[0].source.namespaces ["back"] do not match namespace "front"; ' +
        'shop/allow-back rule 1: from[0].source.namespaces ["ops"] do not match namespace "front"',
    });
  });

  it('names the rule that allowed', () => {
    const d = evaluate([ap('shop', 'allow', { rules: [fromNs('back'), fromNs('front')] })]);
    expect(d.verdict).toBe('allow');
    expect(d.stages[1]).toMatchObject({ stage: 'ALLOW', policy: 'shop/allow', rule: 1 });
  });
});

describe('evaluateAuthorization: which policies apply', () => {
  const denyAll = (ns: string, selector?: Record<string, string>) =>
    ap(ns, 'deny-all', {
      action: 'DENY',
      rules: [{}],
      ...(selector ? { selector: { matchLabels: selector } } : {}),
    });

  it('applies a policy without selector to every workload of its namespace', () => {
    expect(evaluate([denyAll('shop')]).verdict).toBe('deny');
  });

  it('applies a selector only to workloads with all its labels', () => {
    expect(evaluate([denyAll('shop', { app: 'web' })]).verdict).toBe('deny');
    expect(evaluate([denyAll('shop', { app: 'db' })]).verdict).toBe('allow');
    expect(evaluate([denyAll('shop', { app: 'web', tier: 'x' })]).verdict).toBe('allow');
  });

  it('ignores policies of other namespaces', () => {
    expect(evaluate([denyAll('billing')]).verdict).toBe('allow');
  });

  it('applies root-namespace policies mesh-wide, selectors matching workloads in any namespace', () => {
    expect(evaluate([denyAll('weft-system')]).stages[0]).toMatchObject({
      policy: 'weft-system/deny-all',
      result: 'match',
    });
    expect(evaluate([denyAll('weft-system', { app: 'web' })]).verdict).toBe('deny');
    expect(evaluate([denyAll('weft-system', { app: 'db' })]).verdict).toBe('allow');
  });

  it('makes every workload default-deny with a mesh-wide ALLOW policy', () => {
    const meshAllow = ap('weft-system', 'allow-ops', { rules: [fromNs('ops')] });
    expect(evaluate([meshAllow]).verdict).toBe('deny');
    expect(evaluate([meshAllow, allowAll()]).verdict).toBe('allow');
  });
});

describe('evaluateAuthorization: rules absent, empty and {}', () => {
  it('ALLOW without rules allows nothing; rules: [] is the same', () => {
    for (const spec of [{}, { rules: [] }]) {
      const d = evaluate([ap('shop', 'allow-nothing', spec)]);
      expect(d.verdict).toBe('deny');
      expect(d.stages[1]).toMatchObject({
        result: 'default-deny',
        reason:
          'default deny because ALLOW policies select this workload (shop/allow-nothing) and no rule matches: shop/allow-nothing has no rules',
      });
    }
  });

  it('ALLOW with rules: [{}] allows everything, plaintext and TCP included', () => {
    expect(evaluate([allowAll()]).verdict).toBe('allow');
    expect(evaluate([allowAll()], { source: plaintext, http: undefined }).verdict).toBe('allow');
  });

  it('DENY without rules matches nothing; with rules: [{}] denies everything', () => {
    expect(evaluate([ap('shop', 'd', { action: 'DENY' })]).verdict).toBe('allow');
    expect(evaluate([ap('shop', 'd', { action: 'DENY', rules: [] })]).verdict).toBe('allow');
    expect(evaluate([ap('shop', 'd', { action: 'DENY', rules: [{}] })]).verdict).toBe('deny');
  });
});

describe('evaluateAuthorization: HTTP-only fields on TCP traffic', () => {
  const tcp = { http: undefined };

  it('an ALLOW rule with methods, paths, hosts or header conditions never matches TCP', () => {
    const allow = ap('shop', 'allow-get', {
      rules: [
        {
          from: [{ source: { namespaces: ['front'] } }],
          to: [{ operation: { methods: ['GET'] } }],
        },
      ],
    });
    expect(evaluate([allow]).verdict).toBe('allow');
    const d = evaluate([allow], tcp);
    expect(d.verdict).toBe('deny');
    expect(d.stages[1]?.reason).toBe(
      'default deny because ALLOW policies select this workload (shop/allow-get) and no rule matches: ' +
        'shop/allow-get rule 0: to[0].operation.methods need HTTP and the traffic is TCP: an ALLOW rule with them never matches it',
    );
    for (const rule of [
      { to: [{ operation: { notPaths: ['/admin'] } }] },
      { to: [{ operation: { hosts: ['web.shop'] } }] },
      { when: [{ key: 'request.headers[x-user]', notValues: ['evil'] }] },
      // Istio drops the whole rule, even its TCP-only entries.
      { to: [{ operation: { ports: ['8080'] } }, { operation: { methods: ['GET'] } }] },
    ])
      expect(evaluate([ap('shop', 'a', { rules: [rule] })], tcp).verdict).toBe('deny');
  });

  it('a DENY rule with only HTTP fields denies all TCP traffic, as Istio does', () => {
    const deny = ap('shop', 'deny-post', {
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['POST'] } }] }],
    });
    expect(evaluate([deny]).verdict).toBe('allow');
    expect(evaluate([deny], tcp).verdict).toBe('deny');
    const header = ap('shop', 'deny-header', {
      action: 'DENY',
      rules: [{ when: [{ key: 'request.headers[x-user]', values: ['evil'] }] }],
    });
    expect(evaluate([header]).verdict).toBe('allow');
    expect(evaluate([header], tcp).verdict).toBe('deny');
  });

  it('a DENY rule keeps its TCP fields: ports still decide', () => {
    const deny = ap('shop', 'deny-admin', {
      action: 'DENY',
      rules: [{ to: [{ operation: { ports: ['9090'], paths: ['/admin*'] } }] }],
    });
    expect(evaluate([deny], { ...tcp, destination: { ip: '10.0.2.7', port: 9090 } }).verdict).toBe(
      'deny',
    );
    expect(evaluate([deny], tcp).verdict).toBe('allow');
  });
});

describe('evaluateAuthorization: AUDIT', () => {
  const audit = (name: string, rules: unknown[]) => ap('shop', name, { action: 'AUDIT', rules });

  it('reports every matching AUDIT rule without changing the verdict', () => {
    const policies = [
      audit('a1', [fromNs('front'), fromNs('back'), {}]),
      audit('a2', [{ to: [{ operation: { ports: ['8080'] } }] }]),
    ];
    const d = evaluate(policies);
    expect(d.verdict).toBe('allow');
    expect(d.audited).toEqual([
      { policy: 'shop/a1', rule: 0 },
      { policy: 'shop/a1', rule: 2 },
      { policy: 'shop/a2', rule: 0 },
    ]);
    expect(d.stages.filter((s) => s.stage === 'AUDIT')).toEqual([
      {
        stage: 'AUDIT',
        policy: 'shop/a1',
        rule: 0,
        result: 'match',
        reason: 'audited by AUDIT policy shop/a1 rule 0',
      },
      {
        stage: 'AUDIT',
        policy: 'shop/a1',
        rule: 2,
        result: 'match',
        reason: 'audited by AUDIT policy shop/a1 rule 2',
      },
      {
        stage: 'AUDIT',
        policy: 'shop/a2',
        rule: 0,
        result: 'match',
        reason: 'audited by AUDIT policy shop/a2 rule 0',
      },
    ]);
  });

  it('records audits of denied traffic too, and says when none matched', () => {
    const denied = evaluate([
      audit('a', [{}]),
      ap('shop', 'allow-back', { rules: [fromNs('back')] }),
    ]);
    expect(denied.verdict).toBe('deny');
    expect(denied.audited).toEqual([{ policy: 'shop/a', rule: 0 }]);
    const quiet = evaluate([audit('a', [fromNs('back')])]);
    expect(quiet.audited).toEqual([]);
    expect(quiet.stages[2]).toEqual({
      stage: 'AUDIT',
      result: 'no-match',
      reason: 'no AUDIT rule matches',
    });
  });

  it('treats HTTP-only fields on TCP like DENY does: ignored, so the rule audits more', () => {
    const d = evaluate([audit('a', [{ to: [{ operation: { paths: ['/x'] } }] }])], {
      http: undefined,
    });
    expect(d.audited).toEqual([{ policy: 'shop/a', rule: 0 }]);
  });
});
