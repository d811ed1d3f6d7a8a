// Istio's DestinationRule CRD is the chart's only behind istio.destinationRuleCrd (off by
// default: Istio owns it); on, it serves v1 (stored) and v1beta1 and is a valid object.
import { describe, expect, it } from 'vitest';
import { validateObject } from './models.ts';
import { render } from './render.ts';

const crdOf = (args: string[] = []) =>
  render('weft-system', args).find(
    (o) =>
      o.kind === 'CustomResourceDefinition' &&
      o.metadata.name === 'destinationrules.networking.istio.io',
  );

describe('DestinationRule CRD', () => {
  it('is not installed by default', () => {
    expect(crdOf()).toBeUndefined();
  });

  it('is installed with istio.destinationRuleCrd, v1 stored and v1beta1 served', () => {
    const crd = crdOf(['--set', 'istio.destinationRuleCrd=true']) as unknown as {
      spec: { group: string; versions: { name: string; served: boolean; storage: boolean }[] };
    };
    expect(crd).toBeDefined();
    expect(crd.spec.group).toBe('networking.istio.io');
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
      ['v1', true, true],
      ['v1beta1', true, false],
    ]);
    expect(() => validateObject(crd as never)).not.toThrow();
  });
});
