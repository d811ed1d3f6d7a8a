// The HTTPFault CRD: a valid CustomResourceDefinition whose schema accepts what the agent's
// parser accepts and refuses, as the parser does, what the API server can check (unknown
// fields under kubectl's strict validation, percentages, statuses, neither delay nor abort).
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseHttpFault } from '../../../agent/src/sources/routes/fault-parse.ts';
import { validateObject } from './models.ts';
import { chart, type K8sObject, parseDocs } from './render.ts';

type Schema = { [k: string]: unknown };

const file = `${chart}/crds/httpfaults.weft.dev.yaml`;
const [crd] = parseDocs(readFileSync(file, 'utf8'), file) as (K8sObject & {
  spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
})[];

/** A copy that refuses unknown fields, as the API server does under strict field validation. */
function strict(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, strict(v)]),
    );
    out.additionalProperties = false;
  }
  return out;
}
const schema = crd!.spec.versions[0]!.schema.openAPIV3Schema;
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(
  strict(schema),
);

const fault = (spec: unknown) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'HTTPFault',
  metadata: { name: 'f', namespace: 'shop' },
  spec,
});
const accepted = (spec: unknown) => ({
  schema: validate(fault(spec)) as boolean,
  agent: parseHttpFault('f.yaml', fault(spec), 0).errors.length === 0,
});

describe('the HTTPFault CRD', () => {
  it('is a valid CustomResourceDefinition of weft.dev/v1alpha1 HTTPFault', () => {
    validateObject(crd!);
    expect(crd!.metadata.name).toBe('httpfaults.weft.dev');
  });

  it('accepts and refuses what the agent does', () => {
    for (const spec of [
      { delay: { fixedDelay: '100ms', percentage: 12.5 } },
      { abort: { httpStatus: 503 } },
      { abort: { grpcStatus: 'UNAVAILABLE', percentage: 0.1 } },
      { delay: { fixedDelay: '1s' }, abort: { httpStatus: 500, grpcStatus: 'INTERNAL' } },
    ])
      expect(accepted(spec), JSON.stringify(spec)).toEqual({ schema: true, agent: true });
    for (const spec of [
      {},
      { abort: { percentage: 5 } },
      { abort: { httpStatus: 700 } },
      { abort: { grpcStatus: 'OK' } },
      { delay: { fixedDelay: 'soon' } },
      { delay: { fixedDelay: '1s', percentage: 101 } },
      { delay: { fixedDelay: '1s', percent: 5 } },
      { retry: {} },
    ])
      expect(accepted(spec), JSON.stringify(spec)).toEqual({ schema: false, agent: false });
  });
});
