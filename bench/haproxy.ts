// The HAProxy (Debian's package) mutual-TLS proxy pair, beside weft and the
// nginx pair: on the client pod's loopback it originates mutual TLS 1.3 to an
// HAProxy in the server pod that verifies the client certificate and forwards
// to the app on its loopback, once for TCP (to the echo port) and once for
// HTTP (kept-alive upstream connections reused). One thread each, like weft's
// one proxy thread per node. Certificates from bench/nginx-certs.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTree, vmRssKiB } from './cpu.ts';
import { TLS_SERVER_NAME, type TlsFiles } from './nginx-conf.ts';
import { findCommand, type Pod, spawnInPod } from './pod-exec.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const HAPROXY_PORTS = {
  /** On the client's loopback: TCP and HTTP. */
  tcpLocal: 8082,
  httpLocal: 8083,
  /** On the server pod: TLS for TCP and for HTTP. */
  tcpTls: 8444,
  httpTls: 8445,
  /** TCP to the server pod's iperf3 (throughput through the pair). */
  iperfLocal: 8084,
  iperfTls: 8446,
} as const;

/** iperf3's server port in the server pods. */
export const IPERF_PORT = 5201;

// maxconn: two fds a connection and some, within the open-file limit the bench has (20,000 here).
const GLOBAL = `global
  nbthread 1
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  timeout connect 5s
  timeout client 300s
  timeout server 300s
`;

/** Cert and key in one file, as HAProxy's `crt` takes them. */
function pem(dir: string, name: string, f: TlsFiles): string {
  const path = join(dir, `${name}.pem`);
  writeFileSync(path, readFileSync(f.cert, 'utf8') + readFileSync(f.key, 'utf8'));
  return path;
}

/** One listener and where it forwards: `bind` and `server` are the rest of those lines. */
function proxy(name: string, mode: 'tcp' | 'http', bind: string, server: string): string {
  const reuse = mode === 'http' ? '  http-reuse always\n' : '';
  return `frontend ${name}
  mode ${mode}
  bind ${bind}
  default_backend ${name}_to
backend ${name}_to
  mode ${mode}
${reuse}  server to ${server}
`;
}

export function serverConf(dir: string, server: TlsFiles, echo: number, app: number): string {
  const tls = `ssl crt ${pem(dir, 'server', server)} ca-file ${server.ca} verify required`;
  const P = HAPROXY_PORTS;
  return [
    GLOBAL,
    proxy('tcp_in', 'tcp', `:${P.tcpTls} ${tls}`, `127.0.0.1:${echo}`),
    proxy('iperf_in', 'tcp', `:${P.iperfTls} ${tls}`, `127.0.0.1:${IPERF_PORT}`),
    proxy('http_in', 'http', `:${P.httpTls} ${tls}`, `127.0.0.1:${app}`),
  ].join('');
}

export function clientConf(dir: string, client: TlsFiles, serverIp: string): string {
  const tls = `ssl crt ${pem(dir, 'client', client)} ca-file ${client.ca} verify required verifyhost ${TLS_SERVER_NAME} sni str(${TLS_SERVER_NAME})`;
  const P = HAPROXY_PORTS;
  return [
    GLOBAL,
    proxy('tcp_out', 'tcp', `127.0.0.1:${P.tcpLocal}`, `${serverIp}:${P.tcpTls} ${tls}`),
    proxy('iperf_out', 'tcp', `127.0.0.1:${P.iperfLocal}`, `${serverIp}:${P.iperfTls} ${tls}`),
    proxy('http_out', 'http', `127.0.0.1:${P.httpLocal}`, `${serverIp}:${P.httpTls} ${tls}`),
  ].join('');
}

export interface HaProxy {
  rssKiB(): number;
  /** User and system CPU time so far, µs. */
  cpuUsec(): number;
  stop(): void;
}

/** utime + stime of a process from /proc/PID/stat, µs (clock ticks of 10 ms); 0 when gone. */
function cpuUsecOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return 0;
  }
}

/** Checks conf, starts HAProxy in the pod in the foreground; resolves once its ports answer. */
export async function startHaproxy(
  pod: Pod,
  dir: string,
  name: string,
  conf: string,
): Promise<HaProxy> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.cfg`);
  writeFileSync(path, conf);
  const bin = findCommand('haproxy') ?? 'haproxy';
  try {
    execFileSync(bin, ['-c', '-q', '-f', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(
      `haproxy ${name}: ${path}: ${(e as { stderr?: Buffer }).stderr?.toString().trim()}`,
    );
  }
  const child = spawnInPod(pod, [bin, '-db', '-f', path]);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  // It binds at once; give it a moment, and fail if it left.
  await sleep(500);
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`haproxy ${name} exited at start: ${stderr.trim()}`);
  }
  return {
    rssKiB: () => (child.pid ? processTree(child.pid).reduce((n, p) => n + vmRssKiB(p), 0) : 0),
    cpuUsec: () => (child.pid ? processTree(child.pid).reduce((n, p) => n + cpuUsecOf(p), 0) : 0),
    stop: () => {
      for (const p of child.pid ? processTree(child.pid) : []) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    },
  };
}
