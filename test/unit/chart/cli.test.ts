// The command lines the chart renders are ones `weft` accepts: each is parsed by the CLI
// with --help appended (the parser refuses an unknown flag before --help prints); the
// readiness probe's is one build/bin/weft-probe accepts.
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

it.concurrent("the agent's exec readiness probe is a command weft-probe accepts", async () => {
  const pod = find(objs, 'DaemonSet', 'weft-agent') as unknown as {
    spec: {
      template: { spec: { containers: { readinessProbe: { exec: { command: string[] } } }[] } };
    };
  };
  const [cmd, what, ...options] = pod.spec.template.spec.containers[0]!.readinessProbe.exec.command;
  // The image has the build at /app/build (Containerfile); here, the repository's.
  expect(cmd).toBe('/app/build/bin/weft-probe');
  expect(what).toBe('ready');
  // Its options, on a socket where no agent listens: the probe's own verdict, not a usage error.
  const at = options.indexOf('--socket');
  options[at + 1] = `${repo}build/no-agent-here.sock`;
  const r = await run(`${repo}build/bin/weft-probe`, [what!, ...options], {
    encoding: 'utf8',
  }).catch((e: { code: number; stderr: string }) => e);
  expect(r).toMatchObject({
    code: 1,
    stderr: `weft-probe: agent not started: no socket at ${repo}build/no-agent-here.sock\n`,
  });
});
