// The command lines the chart renders are ones `weft` accepts: each is parsed by the CLI
// with --help appended (the parser refuses an unknown flag before --help prints).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { customArgs, find, render, repo } from './render.ts';

// Each run starts Node on the TypeScript sources (about a second): run them side by side.
const run = promisify(execFile);
const objs = render('mesh-system', customArgs);

it.concurrent.each([
  ['DaemonSet', 'weft-agent'],
  ['Deployment', 'weft-issuer'],
])('%s %s: the CLI accepts every flag the chart passes', async (kind, name) => {
  const pod = find(objs, kind, name) as unknown as {
    spec: { template: { spec: { containers: { command: string[]; args: string[] }[] } } };
  };
  const c = pod.spec.template.spec.containers[0]!;
  expect(c.command).toEqual(['/app/bin/weft']);
  const args = c.args.map((a) => (a === '$(NODE_NAME)' ? 'node-1' : a));
  const r = await run(`${repo}bin/weft`, [...args, '--help'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^Usage: weft /);
});

it.concurrent('the check fails on a flag the CLI does not know', async () => {
  await expect(
    run(`${repo}bin/weft`, ['issuer', '--kubernetes', '--no-such-flag', 'x', '--help']),
  ).rejects.toMatchObject({ stderr: expect.stringContaining("Unknown option '--no-such-flag'") });
});

it.concurrent("the agent's exec readiness probe is a command the CLI accepts", async () => {
  const pod = find(objs, 'DaemonSet', 'weft-agent') as unknown as {
    spec: {
      template: { spec: { containers: { readinessProbe: { exec: { command: string[] } } }[] } };
    };
  };
  const [cmd, ...args] = pod.spec.template.spec.containers[0]!.readinessProbe.exec.command;
  expect(cmd).toBe('/app/bin/weft');
  const r = await run(`${repo}bin/weft`, [...args, '--help'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^Usage: weft probe /);
});
