// The footprint benchmark's peers (bench/footprint.ts): in the first variant's
// sandbox, an HAProxy mTLS pair between the direct pods and iperf3 in the
// server pods. Per round: iperf3 throughput direct (the kernel's figure),
// over HBONE and through the HAProxy pair; new connections through the HAProxy
// TCP pair; and Istio's load shape (1,000 requests/s of 1 KB over 4 kept-alive
// connections, open loop) direct, over HBONE and through the HAProxy HTTP pair,
// with each node proxy's CPU per 1,000 requests/s.
import { join } from 'node:path';
import { lastJson, runInPod as runScript } from '../agent/src/sandbox/exec.ts';
import type { FootprintBox } from './footprint-box.ts';
import { fixedRateClient } from './footprint-programs.ts';
import {
  clientConf,
  HAPROXY_PORTS,
  type HaProxy,
  IPERF_PORT,
  serverConf,
  startHaproxy,
} from './haproxy.ts';
import { makeNginxCerts } from './nginx-certs.ts';
import { findCommand, runInPod, spawnInPod } from './pod-exec.ts';
import { connectClient } from './pod-programs.ts';

export const RATE = { perSecond: 1000, seconds: 5, connections: 4 } as const;

export interface RateFigures {
  p50: number;
  p90: number;
  p99: number;
  /** vCPU per 1,000 requests/s of each proxy on the path (client side, server side). */
  vcpuPer1k: number[];
  errors: number;
}

export interface PeerRound {
  /** iperf3, MB/s (10⁶ bytes/s) received. */
  iperf: { direct: number; hbone: number; haproxy: number };
  haproxyCps: number;
  haproxyRssMiB: number;
  rate: { direct: RateFigures; hbone: RateFigures; haproxy: RateFigures };
  errors: string[];
}

export class Peers {
  private readonly pair: HaProxy[];
  private constructor(pair: HaProxy[]) {
    this.pair = pair;
  }

  static async start(box: FootprintBox, dir: string): Promise<Peers> {
    const certs = makeNginxCerts(dir);
    const server = box.pod('dremote');
    const pair = [
      await startHaproxy(server, dir, 'server', serverConf(dir, certs.server, 9000, 8080)),
      await startHaproxy(
        box.pod('dclient'),
        dir,
        'client',
        clientConf(dir, certs.client, server.ip),
      ),
    ];
    for (const p of ['dremote', 'remote']) {
      spawnInPod(box.pod(p), [findCommand('iperf3') ?? 'iperf3', '-s', '-p', String(IPERF_PORT)]);
    }
    return new Peers(pair);
  }

  stop(): void {
    for (const p of this.pair) p.stop();
  }

  async round(box: FootprintBox, connectMs: number): Promise<PeerRound> {
    const errors: string[] = [];
    const iperf = async (client: string, host: string, port: number) => {
      const r = await runInPod(
        box.pod(client),
        [findCommand('iperf3') ?? 'iperf3', '-c', host, '-p', String(port), '-t', '2', '-J'],
        30_000,
      );
      try {
        const j = JSON.parse(r.stdout) as {
          end?: { sum_received?: { bits_per_second: number } };
          error?: string;
        };
        if (j.error) throw new Error(j.error);
        return j.end!.sum_received!.bits_per_second / 8 / 1e6;
      } catch (e) {
        errors.push(`iperf3 ${client} → ${host}:${port}: ${(e as Error).message}`);
        return Number.NaN;
      }
    };
    const ip = (p: string) => box.pod(p).ip;
    const iperfs = {
      direct: await iperf('dclient', ip('dremote'), IPERF_PORT),
      hbone: await iperf('client', ip('remote'), IPERF_PORT),
      haproxy: await iperf('dclient', '127.0.0.1', HAPROXY_PORTS.iperfLocal),
    };
    const conn = lastJson<{ count: number; seconds: number; error?: string }>(
      await runScript(
        box.placement('dclient'),
        connectClient('127.0.0.1', connectMs, HAPROXY_PORTS.tcpLocal),
        connectMs + 30_000,
      ),
    );
    if (conn.error) errors.push(`HAProxy TCP connects: ${conn.error}`);
    const rate = async (client: string, url: string, cpu: () => number[]) => {
      const c0 = cpu();
      const t0 = performance.now();
      const r = lastJson<{ p50: number; p90: number; p99: number; errors: number; error?: string }>(
        await runScript(
          box.placement(client),
          fixedRateClient(url, RATE.perSecond, RATE.seconds, RATE.connections),
          (RATE.seconds + 40) * 1000,
        ),
      );
      const s = (performance.now() - t0) / 1000;
      if (r.error) errors.push(`fixed rate ${url}: ${r.error}`);
      const c1 = cpu();
      // vCPU = CPU seconds per second, over the client's whole run (warm-up and start included).
      const vcpuPer1k = c1.map((x, i) => (x - c0[i]!) / 1e6 / s / (RATE.perSecond / 1000));
      return { p50: r.p50, p90: r.p90, p99: r.p99, errors: r.errors, vcpuPer1k };
    };
    const rates = {
      direct: await rate('dclient', `http://${ip('dremote')}:8080/`, () => []),
      hbone: await rate('client', `http://${ip('remote')}:8080/`, () => box.cpuUsec()),
      haproxy: await rate('dclient', `http://127.0.0.1:${HAPROXY_PORTS.httpLocal}/`, () =>
        // client side first, like the agents (node-1 first)
        [this.pair[1]!.cpuUsec(), this.pair[0]!.cpuUsec()],
      ),
    };
    return {
      iperf: iperfs,
      haproxyCps: conn.error ? Number.NaN : conn.count / conn.seconds,
      haproxyRssMiB: this.pair.reduce((n, p) => n + p.rssKiB(), 0) / 1024,
      rate: rates,
      errors,
    };
  }
}

export const peersDir = (tmp: string) => join(tmp, 'peers');
