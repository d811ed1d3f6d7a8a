// The raw TCP figures of one path in one round: bulk throughput, 1-byte round
// trips (with the sandbox's CPU time during them) and connection rate, all
// from Node programs in the client pod against the bench server.
import { join } from 'node:path';
import { lastJson, runInPod } from '../agent/src/sandbox/exec.ts';
import type { BenchConfig } from './config.ts';
import type { Pod } from './pod-exec.ts';
import { bulkClient, connectClient, pingClient } from './pod-programs.ts';
import type { TcpFigures } from './results.ts';
import { cpuMsPerThousand } from './stats.ts';

export interface TcpRun {
  figures: TcpFigures;
  errors: string[];
  /** Connections the client opened (the mesh check compares the proxies' count with it). */
  connections: number;
}

export async function measureTcp(
  client: Pod,
  server: Pod,
  sandboxCgroup: string,
  cfg: BenchConfig,
): Promise<TcpRun> {
  const at = { netnsPath: client.netns, cgroupDir: client.cgroup };
  const errors: string[] = [];
  const get = async <T extends { error?: string }>(what: string, script: string, ms: number) => {
    try {
      const r = lastJson<T>(await runInPod(at, script, ms));
      if (r.error) errors.push(`${what}: ${r.error}`);
      return r.error ? null : r;
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message.split('\n')[0]}`);
      return null;
    }
  };
  const bulk = await get<{ bytes: number; seconds: number; error?: string }>(
    'TCP throughput',
    bulkClient(server.ip, cfg.bulkMs),
    cfg.bulkMs + 30_000,
  );
  const ping = await get<{
    p50: number;
    p90: number;
    p99: number;
    cpuUsec: number;
    error?: string;
  }>('TCP round trips', pingClient(server.ip, cfg.pings, join(sandboxCgroup, 'cpu.stat')), 120_000);
  const conn = await get<{ count: number; seconds: number; error?: string }>(
    'TCP connects',
    connectClient(server.ip, cfg.connectMs),
    cfg.connectMs + 30_000,
  );
  return {
    figures: {
      mbps: bulk ? bulk.bytes / bulk.seconds / 1e6 : Number.NaN,
      p50: ping?.p50 ?? Number.NaN,
      p90: ping?.p90 ?? Number.NaN,
      p99: ping?.p99 ?? Number.NaN,
      cps: conn ? conn.count / conn.seconds : Number.NaN,
      cpuMsPer1k: ping ? cpuMsPerThousand(ping.cpuUsec, cfg.pings) : Number.NaN,
    },
    errors,
    connections: 2 + (conn?.count ?? 0),
  };
}
