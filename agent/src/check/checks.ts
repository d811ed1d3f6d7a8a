// Which checks run, and running them: in order, one at a time (the probes share
// the kernel), an unexpected error becoming that check's failure.
import { agentChecks } from './agent.ts';
import { filesystemChecks } from './filesystems.ts';
import { kernelChecks } from './kernel.ts';
import { permissionChecks } from './permissions.ts';
import { probeChecks } from './probes.ts';
import type { Check, CheckEnv, CheckResult } from './types.ts';

export interface Ran {
  check: Check;
  result: CheckResult;
}

/** Before install (pre): host checks only; otherwise the running agent too. */
export function selectChecks(pre: boolean, bpfDir: string, objects: string[]): Check[] {
  return [
    ...kernelChecks,
    ...filesystemChecks,
    ...permissionChecks,
    ...probeChecks(bpfDir, objects),
    ...(pre ? [] : agentChecks),
  ];
}

export async function runChecks(checks: readonly Check[], env: CheckEnv): Promise<Ran[]> {
  const out: Ran[] = [];
  for (const check of checks) {
    let result: CheckResult;
    try {
      result = await check.run(env);
    } catch (e) {
      result = { verdict: 'fail', detail: (e as Error).message };
    }
    out.push({ check, result });
  }
  return out;
}
