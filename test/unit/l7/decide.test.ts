// The engine's own answers for a matched rule: 500 when the backend picked does
// not resolve (it keeps its weight, as the route's status says), 503 when a
// resolved backend has no endpoint.
import { describe, expect, it } from 'vitest';
import { endpointFor } from '../../../agent/src/l7/decide.ts';
import { Pools } from '../../../agent/src/l7/endpoint-pools.ts';
import type { L7Source, L7View } from '../../../agent/src/l7/source.ts';
import { Spread } from '../../../agent/src/l7/spread.ts';
import type { ServiceTarget } from '../../../agent/src/state/service-endpoints.ts';
import { emptyRoutes } from '../../../agent/src/tables/routes.ts';
import { rule } from '../../support/routes.ts';

const view: L7View = { routes: emptyRoutes, services: new Map() };
const src = {
  vip: '10.96.0.1:80',
  allowed: (_v: L7View, _k: string, t: ServiceTarget) => t,
} as unknown as L7Source;
const decide = (r: ReturnType<typeof rule>) => endpointFor(new Pools(), new Spread(), src, view, r);

describe('endpointFor', () => {
  it('answers 500 for a backend that does not resolve, 503 for one without endpoints', () => {
    const gone = rule({ backends: [{ service: 'shop/gone', endpoints: [] }] });
    const unresolved = {
      ...gone,
      backends: [{ ...gone.backends[0]!, unresolved: 'BackendNotFound' as const }],
    };
    expect(decide(unresolved)).toMatchObject({
      status: 500,
      flag: 'no_backend',
      service: 'shop/gone',
    });
    expect(decide(gone)).toMatchObject({ status: 503, flag: 'no_healthy_upstream' });
    const ok = rule({
      backends: [{ service: 'shop/a', endpoints: [{ ip: '10.0.0.1', port: 80, pod: 'shop/a' }] }],
    });
    expect(decide(ok)).toMatchObject({ status: 0, ep: { ip: '10.0.0.1' } });
  });
});
