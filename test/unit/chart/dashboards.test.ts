// The chart's optional monitoring objects: a ServiceMonitor and weft's Grafana dashboard,
// off by default; every query of the dashboard names a metric the agent exports.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chart, type K8sObject, render, repo } from './render.ts';

const kinds = (args: string[] = []) => render('weft-system', args).map((o: K8sObject) => o.kind);

/** Every metric family name the agent's code registers (prom-client `name:` or the helpers' first argument). */
function exported(): Set<string> {
  const names = new Set<string>();
  for (const f of ['metrics.ts', 'istio.ts']) {
    const src = readFileSync(`${repo}agent/src/telemetry/${f}`, 'utf8');
    for (const m of src.matchAll(/['"`]((?:weft|istio)_[a-z_]+)['"`]/g)) names.add(m[1]!);
  }
  return names;
}

describe('chart monitoring objects', () => {
  it('renders neither a ServiceMonitor nor the dashboard by default', () => {
    expect(kinds()).not.toContain('ServiceMonitor');
    expect(
      render('weft-system', []).some((o) => o.metadata.name === 'weft-grafana-dashboard'),
    ).toBe(false);
  });

  it('renders a ServiceMonitor that selects the agents metrics Service, with extra labels', () => {
    const objs = render('weft-system', [
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.serviceMonitor.labels.release=kube-prometheus',
    ]);
    const sm = objs.find((o) => o.kind === 'ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    const svc = objs.find((o) => o.metadata.name === 'weft-agent-metrics') as K8sObject & {
      spec: { ports: { name: string }[] };
    };
    expect((sm.metadata.labels as Record<string, string>).release).toBe('kube-prometheus');
    const svcLabels = svc.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svcLabels[k]).toBe(v);
    expect(svc.spec.ports.map((p) => p.name)).toContain(sm.spec.endpoints[0]!.port);
  });

  it('ships the dashboard with the sidecar label, and every query names an exported metric', () => {
    const cm = render('weft-system', ['--set', 'metrics.grafanaDashboard.enabled=true']).find(
      (o) => o.metadata.name === 'weft-grafana-dashboard',
    ) as K8sObject & { data: Record<string, string> };
    expect((cm.metadata.labels as Record<string, string>).grafana_dashboard).toBe('1');
    const dash = JSON.parse(cm.data['weft.json']!) as {
      panels: { targets: { expr: string }[] }[];
    };
    expect(dash).toEqual(JSON.parse(readFileSync(`${chart}/dashboards/weft.json`, 'utf8')));
    const have = exported();
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    for (const e of exprs)
      for (const m of e.matchAll(/\b((?:weft|istio)_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g))
        expect(have, `${m[1]} in ${e}`).toContain(m[1]);
  });

  it('refuses a malformed scrape interval by name', () => {
    expect(() => render('weft-system', ['--set', 'metrics.serviceMonitor.interval=often'])).toThrow(
      /interval/,
    );
  });
});
