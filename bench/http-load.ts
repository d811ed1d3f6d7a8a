// The HTTP figures of one path in one round: wrk in the client pod, and the
// CPU time the whole sandbox used while it ran.
import type { BenchConfig } from './config.ts';
import { cgroupUsageUsec } from './cpu.ts';
import { type Pod, runInPod } from './pod-exec.ts';
import { FAILED_HTTP, type HttpFigures } from './results.ts';
import { cpuMsPerThousand } from './stats.ts';
import { parseWrk, wrkArgs, wrkProblems } from './wrk.ts';

export interface HttpRun {
  figures: HttpFigures;
  errors: string[];
  /** Requests completed (0 when wrk failed). */
  requests: number;
}

export async function measureHttp(
  client: Pod,
  url: string,
  sandboxCgroup: string,
  cfg: BenchConfig,
): Promise<HttpRun> {
  const argv = [
    'wrk',
    ...wrkArgs({ url, connections: cfg.httpConnections, seconds: cfg.httpSeconds }),
  ];
  const u0 = cgroupUsageUsec(sandboxCgroup);
  const r = await runInPod(client, argv, cfg.httpSeconds * 1000 + 30_000);
  const used = cgroupUsageUsec(sandboxCgroup) - u0;
  try {
    if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    const w = parseWrk(r.stdout);
    const problems = wrkProblems(w);
    if (problems.length) {
      return { figures: FAILED_HTTP, errors: problems.map((p) => `HTTP: ${p}`), requests: 0 };
    }
    return {
      figures: {
        rps: w.requestsPerSec,
        p50: w.p50,
        p90: w.p90,
        p99: w.p99,
        cpuMsPer1k: cpuMsPerThousand(used, w.requests),
      },
      errors: [],
      requests: w.requests,
    };
  } catch (e) {
    return { figures: FAILED_HTTP, errors: [`HTTP: ${(e as Error).message}`], requests: 0 };
  }
}
