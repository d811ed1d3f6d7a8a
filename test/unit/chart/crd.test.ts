// The AuthorizationPolicy CRD: a valid, structural apiextensions.k8s.io/v1 object whose
// schema accepts every policy the agent accepts (the shipped examples and fixtures among
// them) and refuses what it can tell is wrong, as the agent does. Schema checks use ajv (a
// dependency of kubernetes-models), with additionalProperties: false added to every object
// that lists its properties, as kubectl's strict field validation refuses unknown fields.
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  isAuthorizationPolicy,
  parseAuthorizationPolicy,
} from '../../../agent/src/sources/policy/authz-parse.ts';
import { validateObject } from './models.ts';
import { chart, type K8sObject, parseDocs, repo } from './render.ts';

type Schema = { [k: string]: unknown };
interface Crd extends K8sObject {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns: { name: string; jsonPath: string; type: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const crdFile = `${chart}/crds/authorizationpolicies.security.weft.dev.yaml`;
const [crd] = parseDocs(readFileSync(crdFile, 'utf8'), crdFile) as Crd[];
const version = crd!.spec.versions[0]!;
const schema = version.schema.openAPIV3Schema;

/** Structural-schema rules the API server enforces (the ones this schema could break). */
function structuralProblems(s: Schema, path: string, inJunctor: boolean): string[] {
  const out: string[] = [];
  if (!inJunctor && typeof s.type !== 'string') out.push(`${path}: no type`);
  if (inJunctor)
    for (const k of ['type', 'description', 'default', 'additionalProperties', 'nullable'])
      if (k in s) out.push(`${path}: ${k} inside anyOf/allOf/oneOf/not`);
  if (s.properties && s.additionalProperties)
    out.push(`${path}: both properties and additionalProperties`);
  if (s.type === 'array' && !s.items && !inJunctor) out.push(`${path}: array without items`);
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const [k, v] of Object.entries(props))
    out.push(...structuralProblems(v, `${path}.${k}`, inJunctor));
  if (s.items) out.push(...structuralProblems(s.items as Schema, `${path}[]`, inJunctor));
  if (typeof s.additionalProperties === 'object')
    out.push(...structuralProblems(s.additionalProperties as Schema, `${path}{}`, inJunctor));
  for (const j of ['anyOf', 'allOf', 'oneOf'])
    for (const [i, v] of ((s[j] as Schema[] | undefined) ?? []).entries())
      out.push(...structuralProblems(v, `${path}.${j}[${i}]`, true));
  return out;
}

/** A copy that refuses unknown fields, as the API server does under strict field validation. */
function strict(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, strict(v)]),
    );
    out.additionalProperties = false;
  }
  if (s.items) out.items = strict(s.items as Schema);
  if (typeof s.additionalProperties === 'object')
    out.additionalProperties = strict(s.additionalProperties as Schema);
  return out;
}

// strictRequired off: `anyOf: [{required: [values]}, ...]` names properties defined beside it.
function compile(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  // Kubernetes' own keywords: meaningful to the API server, not to JSON Schema validation.
  for (const k of ['x-kubernetes-list-type', 'x-kubernetes-list-map-keys']) ajv.addKeyword(k);
  ajv.addFormat('int64', /^-?[0-9]+$/);
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  return ajv.compile(strict(schema));
}
const validate = compile();

function schemaErrors(doc: unknown): string[] {
  return validate(doc)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

const policy = (spec: unknown, name = 'p') => ({
  apiVersion: 'security.weft.dev/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'shop' },
  spec,
});

function agentErrors(doc: unknown): string[] {
  return parseAuthorizationPolicy('test.yaml', doc, 0).errors.map(
    (e) => `${e.field}: ${e.message}`,
  );
}

describe('the CRD object', () => {
  it('validates as an apiextensions.k8s.io/v1 CustomResourceDefinition', () => {
    validateObject(crd!);
    expect(crd!.metadata.name).toBe('authorizationpolicies.security.weft.dev');
    expect(crd!.spec).toMatchObject({
      group: 'security.weft.dev',
      scope: 'Namespaced',
      names: { kind: 'AuthorizationPolicy', plural: 'authorizationpolicies' },
    });
    expect(crd!.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
      ['v1alpha1', true, true],
    ]);
  });

  it('has a structural schema', () => {
    expect(structuralProblems(schema, 'openAPIV3Schema', false)).toEqual([]);
    // The check sees what it is for.
    expect(structuralProblems({ type: 'object', properties: { a: {} } }, 's', false)).toEqual([
      's.a: no type',
    ]);
  });

  it('has a status subresource with conditions, and kubectl get shows Action and Accepted', () => {
    expect(version.subresources?.status).toEqual({});
    const cond = (
      ((schema.properties as Record<string, Schema>).status!.properties as Record<string, Schema>)
        .conditions!.items as Schema
    ).properties as Record<string, Schema>;
    expect(Object.keys(cond).sort()).toEqual(
      ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type'].sort(),
    );
    const cols = Object.fromEntries(
      version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]),
    );
    expect(cols).toMatchObject({
      Action: '.spec.action',
      Accepted: '.status.conditions[?(@.type=="Accepted")].status',
      Reason: '.status.conditions[?(@.type=="Accepted")].reason',
    });
  });

  it('a status the issuer writes is valid', () => {
    const doc = {
      ...policy({ action: 'DENY' }),
      status: {
        observedGeneration: 3,
        conditions: [
          {
            type: 'Accepted',
            status: 'False',
            reason: 'Rejected',
            message: 'spec.rules[0].from[0].source.ipBlocks[0]: expected an IP address or CIDR',
            lastTransitionTime: '2025-01-02T03:04:05Z',
            observedGeneration: 3,
          },
        ],
      },
    };
    expect(schemaErrors(doc)).toEqual([]);
    expect(
      schemaErrors({ ...doc, status: { conditions: [{ type: 'Accepted', status: 'Maybe' }] } }),
    ).not.toEqual([]);
  });
});

describe('shipped policies', () => {
  const files = [
    ...readdirSync(`${repo}examples`).map((f) => `examples/${f}`),
    ...readdirSync(`${repo}test/fixtures/policy`).map((f) => `test/fixtures/policy/${f}`),
    'vagrant/shop.yaml',
  ].filter((f) => f.endsWith('.yaml'));
  const policies = files.flatMap((f) =>
    parseDocs(readFileSync(`${repo}${f}`, 'utf8'), f)
      .filter(isAuthorizationPolicy)
      .map((doc) => ({ f, doc })),
  );

  it('there are some to check', () => {
    expect(policies.length).toBeGreaterThan(0);
  });

  it('every AuthorizationPolicy in examples/, test/fixtures/policy/ and the rig is valid under the CRD', () => {
    for (const { f, doc } of policies) {
      // Istio's API group is accepted as is; the spec is the same under weft's.
      const asWeft = { ...doc, apiVersion: 'security.weft.dev/v1alpha1' };
      expect(schemaErrors(asWeft), `${f} ${doc.metadata.name}`).toEqual([]);
      expect(agentErrors(asWeft), `${f} ${doc.metadata.name}`).toEqual([]);
    }
  });
});

// What the schema and the agent's parser say about the same spec. The schema may accept what
// only the agent can judge (it then reports Rejected); it must never refuse what the agent
// accepts.
const bothAccept: [string, unknown][] = [
  ['an empty spec', {}],
  ['no rules', { action: 'DENY', selector: { matchLabels: { app: 'web' } } }],
  ['one empty rule', { rules: [{}] }],
  [
    'every source and operation field',
    {
      action: 'ALLOW',
      rules: [
        {
          from: [
            {
              source: {
                principals: ['cluster.local/ns/front/sa/ui'],
                notPrincipals: ['cluster.local/ns/front/sa/bad'],
                namespaces: ['front'],
                notNamespaces: ['kube-system'],
                ipBlocks: ['10.0.0.0/8'],
                notIpBlocks: ['10.9.0.1'],
              },
            },
          ],
          to: [
            {
              operation: {
                hosts: ['web.shop'],
                notHosts: ['admin.shop'],
                ports: ['8080'],
                notPorts: ['9090'],
                methods: ['GET'],
                notMethods: ['DELETE'],
                paths: ['/api/*'],
                notPaths: ['/admin'],
              },
            },
          ],
          when: [
            { key: 'request.headers[x-user]', values: ['alice'] },
            { key: 'source.ip', notValues: ['10.0.0.9'] },
            { key: 'destination.port', values: ['8080'] },
            { key: 'source.namespace', values: ['front'] },
            { key: 'source.principal', notValues: ['cluster.local/ns/a/sa/b'] },
          ],
        },
      ],
    },
  ],
  ['AUDIT', { action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/'] } }] }] }],
];

const bothRefuse: [string, unknown][] = [
  ['action CUSTOM', { action: 'CUSTOM', rules: [{}] }],
  ['a lowercase action', { action: 'allow' }],
  ['an empty from list', { rules: [{ from: [] }] }],
  ['a from entry without source', { rules: [{ from: [{}] }] }],
  ['an empty source', { rules: [{ from: [{ source: {} }] }] }],
  ['an empty operation', { rules: [{ to: [{ operation: {} }] }] }],
  ['a named port', { rules: [{ to: [{ operation: { ports: ['http'] } }] }] }],
  ['a numeric port', { rules: [{ to: [{ operation: { ports: [8080] } }] }] }],
  ['an empty string', { rules: [{ from: [{ source: { namespaces: [''] } }] }] }],
  ['a condition without values', { rules: [{ when: [{ key: 'source.ip' }] }] }],
  ['an unknown condition key', { rules: [{ when: [{ key: 'remote.ip', values: ['1.2.3.4'] }] }] }],
  ['a misspelt field', { rules: [{ from: [{ source: { principles: ['a/ns/b/sa/c'] } }] }] }],
  ['an unknown spec field', { action: 'DENY', targetRef: { kind: 'Gateway', name: 'g' } }],
  ['a label value that is not a string', { selector: { matchLabels: { app: 1 } } }],
];

const onlyAgentRefuses: [string, unknown][] = [
  ['an address that is not an IP', { rules: [{ from: [{ source: { ipBlocks: ['a.b.c.d'] } }] }] }],
  [
    'a spiffe:// principal',
    { rules: [{ from: [{ source: { principals: ['spiffe://td/ns/a/sa/b'] } }] }] },
  ],
  ['a path template', { rules: [{ to: [{ operation: { paths: ['/a/{*}'] } }] }] }],
  [
    'request principals (need JWT)',
    { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] },
  ],
  ['remote IP blocks', { rules: [{ from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }] }] }],
  ['port 0', { rules: [{ to: [{ operation: { ports: ['0'] } }] }] }],
];

describe('the schema agrees with the agent', () => {
  it.each(bothAccept)('both accept %s', (_, spec) => {
    expect(agentErrors(policy(spec))).toEqual([]);
    expect(schemaErrors(policy(spec))).toEqual([]);
  });

  it.each(bothRefuse)('both refuse %s', (_, spec) => {
    expect(agentErrors(policy(spec))).not.toEqual([]);
    expect(schemaErrors(policy(spec))).not.toEqual([]);
  });

  it.each(onlyAgentRefuses)('the agent (not the schema) refuses %s', (_, spec) => {
    expect(schemaErrors(policy(spec))).toEqual([]);
    expect(agentErrors(policy(spec))).not.toEqual([]);
  });

  it('the schema lists every source, operation and condition field the agent reads', () => {
    const at = (...path: string[]) => {
      let s: Schema = schema;
      for (const p of path)
        s = p === '[]' ? (s.items as Schema) : (s.properties as Record<string, Schema>)[p]!;
      return Object.keys(s.properties as object).sort();
    };
    const rule = ['spec', 'rules', '[]'];
    expect(at(...rule)).toEqual(['from', 'to', 'when']);
    expect(at(...rule, 'from', '[]', 'source')).toEqual(
      [
        'principals',
        'notPrincipals',
        'namespaces',
        'notNamespaces',
        'ipBlocks',
        'notIpBlocks',
        'remoteIpBlocks',
        'notRemoteIpBlocks',
        'requestPrincipals',
        'notRequestPrincipals',
      ].sort(),
    );
    expect(at(...rule, 'to', '[]', 'operation')).toEqual(
      [
        'hosts',
        'notHosts',
        'ports',
        'notPorts',
        'methods',
        'notMethods',
        'paths',
        'notPaths',
      ].sort(),
    );
    expect(at(...rule, 'when', '[]')).toEqual(['key', 'notValues', 'values']);
    expect(at('spec')).toEqual(['action', 'rules', 'selector']);
  });
});
