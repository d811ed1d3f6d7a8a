// The chart's observability values: off by default, and what each turns on in
// the agent's arguments and environment.
import { describe, expect, it } from 'vitest';
import { type K8sObject, render } from './render.ts';

interface Container {
  args: string[];
  env?: { name: string; value?: string }[];
}

function agent(args: string[] = []): Container {
  const ds = render('weft-system', args).find((o: K8sObject) => o.kind === 'DaemonSet')!;
  return (ds as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec
    .template.spec.containers[0]!;
}

describe('chart observability values', () => {
  it('leaves revocation, the access log and tracing off by default', () => {
    const c = agent();
    expect(c.args).not.toContain('--revoke-on-policy-change');
    expect(c.args).not.toContain('--access-log');
    expect((c.env ?? []).map((e) => e.name)).not.toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('turns each on', () => {
    const c = agent([
      '--set',
      'agent.revokeOnPolicyChange=true',
      '--set',
      'agent.accessLog=true',
      '--set',
      'tracing.endpoint=http://otel-collector.observability:4318',
      // --set reads 0.05 as a string (the schema wants a number); an integer stays one.
      '--set',
      'tracing.sampling=1',
    ]);
    expect(c.args).toContain('--revoke-on-policy-change');
    expect(
      c.args.slice(c.args.indexOf('--access-log'), c.args.indexOf('--access-log') + 2),
    ).toEqual(['--access-log', 'stdout']);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4318' },
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '1' },
      ]),
    );
  });
});
