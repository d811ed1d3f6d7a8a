// L7 is per (workload, port): which ports an HTTP rule sends through the HTTP parser.
import { describe, expect, it } from 'vitest';
import { servesHttp } from '../../../agent/src/policy/authz-l7.ts';
import { ap } from './authz-fixtures.ts';

const web = {
  namespace: 'shop',
  labels: { app: 'web' },
  ports: [
    { name: 'http', containerPort: 8080 },
    { name: 'tcp-banner', containerPort: 9090 },
    { containerPort: 7070 },
  ],
};
const on = (spec: object, port: number) =>
  servesHttp(
    [ap('shop', 'p', { selector: { matchLabels: { app: 'web' } }, ...spec })],
    'weft-system',
    web,
    port,
  );

describe('servesHttp', () => {
  it('reads only the ports an HTTP rule names as HTTP', () => {
    const spec = {
      rules: [
        { to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] },
        { to: [{ operation: { ports: ['7070'] } }] },
      ],
    };
    expect([on(spec, 8080), on(spec, 7070), on(spec, 9090)]).toEqual([true, false, false]);
  });

  it('keeps HTTP fields to the operation that carries them', () => {
    const spec = {
      rules: [
        {
          to: [
            { operation: { ports: ['7070'] } },
            { operation: { ports: ['8080'], paths: ['/a'] } },
          ],
        },
      ],
    };
    expect([on(spec, 8080), on(spec, 7070)]).toEqual([true, false]);
  });

  it('reads every port a portless HTTP rule covers, except those the pod declares TCP', () => {
    const spec = { rules: [{ to: [{ operation: { paths: ['/a'] } }] }] };
    expect([on(spec, 8080), on(spec, 7070), on(spec, 9090)]).toEqual([true, true, false]);
  });

  it('follows notPorts and destination.port conditions', () => {
    const not = { rules: [{ to: [{ operation: { notPorts: ['7070'], methods: ['GET'] } }] }] };
    expect([on(not, 8080), on(not, 7070)]).toEqual([true, false]);
    const when = {
      rules: [
        {
          when: [
            { key: 'destination.port', values: ['7070'] },
            { key: 'request.headers[x-a]', values: ['1'] },
          ],
        },
      ],
    };
    expect([on(when, 8080), on(when, 7070)]).toEqual([false, true]);
  });

  it('reads a port as HTTP for header conditions when an operation lets the port in', () => {
    const spec = {
      rules: [
        {
          to: [{ operation: { ports: ['7070'] } }],
          when: [{ key: 'request.headers[x-a]', values: ['1'] }],
        },
      ],
    };
    expect([on(spec, 7070), on(spec, 8080)]).toEqual([true, false]);
  });

  it('reads nothing as HTTP for policies without HTTP fields or not selecting the workload', () => {
    expect(on({ rules: [{ to: [{ operation: { ports: ['8080'] } }] }] }, 8080)).toBe(false);
    const other = ap('shop', 'q', {
      selector: { matchLabels: { app: 'db' } },
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
    });
    expect(servesHttp([other], 'weft-system', web, 8080)).toBe(false);
  });
});
