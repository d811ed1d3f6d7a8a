// The sandboxes of the matrix, each with its servers running: in every
// server pod the Node TCP bench server and an nginx HTTP app; in the main
// sandbox also the nginx mTLS proxy pair between the direct pods.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStatus } from '../agent/src/admin/client.ts';
import type { Cleanup } from '../agent/src/sandbox/cleanup.ts';
import { lastJson, runInPod, spawnInPod } from '../agent/src/sandbox/exec.ts';
import { Sandbox, teardown } from '../agent/src/sandbox/sandbox.ts';
import { cgroupPids, vmRssKiB } from './cpu.ts';
import { benchManifests, PORTS, SANDBOXES, type SandboxKey, serverPods } from './matrix.ts';
import { type Nginx, startNginx } from './nginx.ts';
import { makeNginxCerts } from './nginx-certs.ts';
import { appConf, clientProxyConf, serverProxyConf } from './nginx-conf.ts';
import type { Pod } from './pod-exec.ts';
import { benchServer } from './pod-programs.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BenchSandbox {
  readonly key: SandboxKey;
  readonly sbx: Sandbox;
  /** The nginx mTLS proxy pair (main sandbox only). */
  readonly proxies: Nginx[] = [];

  private constructor(key: SandboxKey, sbx: Sandbox) {
    this.key = key;
    this.sbx = sbx;
  }

  /** The sandbox's cgroup: every pod and both agents are below it. */
  get cgroup(): string {
    return join(this.sbx.state.nodes[0]!.cgroupRoot, '..');
  }

  pod(name: string): Pod {
    const p = this.sbx.state.pods.find((x) => x.key === `bench/${name}`);
    if (!p) throw new Error(`sandbox ${this.sbx.state.name} has no pod bench/${name}`);
    return { netns: p.netns, cgroup: p.cgroup, ip: p.ip };
  }

  /** The ClusterIP of `bench/<name>`. */
  service(name: string): string {
    const ip = this.sbx.state.services[`bench/${name}`];
    if (!ip) throw new Error(`sandbox ${this.sbx.state.name} has no Service bench/${name}`);
    return ip;
  }

  /** Connections the weft proxies accepted from clients, all nodes. */
  async meshConnections(): Promise<number> {
    const all = await Promise.all(this.sbx.state.nodes.map((n) => fetchStatus(n.adminSocket)));
    return all.reduce((n, s) => n + s.proxy.outbound.accepted, 0);
  }

  /** VmRSS of the agents of all nodes, MiB. */
  agentsRssMiB(): number {
    let kib = 0;
    for (const n of this.sbx.state.nodes) {
      for (const pid of cgroupPids(join(n.cgroupRoot, 'agent'))) kib += vmRssKiB(pid);
    }
    return kib / 1024;
  }

  nginxRssMiB(): number {
    return this.proxies.reduce((n, p) => n + p.rssKiB(), 0) / 1024;
  }

  static async up(key: SandboxKey, tmp: string, cleanup: Cleanup): Promise<BenchSandbox> {
    const def = SANDBOXES[key];
    teardown(def.name);
    cleanup.add(`sandbox ${def.name}`, () => {
      teardown(def.name);
    });
    const dir = join(tmp, key);
    mkdirSync(join(dir, 'manifests'), { recursive: true });
    writeFileSync(join(dir, 'manifests', 'bench.yaml'), benchManifests(key));
    const sbx = await Sandbox.up({
      name: def.name,
      nodes: 2,
      manifests: join(dir, 'manifests'),
      mtls: def.mtls,
      splice: def.splice,
    });
    const b = new BenchSandbox(key, sbx);
    for (const name of serverPods(key)) {
      const p = b.pod(name);
      const child = spawnInPod({ netnsPath: p.netns, cgroupDir: p.cgroup }, benchServer);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', () => resolve());
        child.on('exit', (c) => reject(new Error(`bench server in ${name} exited (${c})`)));
      });
      await startNginx(p, join(dir, 'nginx'), `app-${name}`, (d) => appConf({ dir: d }, PORTS.app));
    }
    if (key === 'main') {
      const certs = makeNginxCerts(join(dir, 'nginx'));
      const server = b.pod('dremote');
      b.proxies.push(
        await startNginx(server, join(dir, 'nginx'), 'server-proxy', (d) =>
          serverProxyConf({ dir: d }, PORTS.nginxTls, PORTS.app, certs.server),
        ),
        await startNginx(b.pod('dclient'), join(dir, 'nginx'), 'client-proxy', (d) =>
          clientProxyConf(
            { dir: d },
            PORTS.nginxLocal,
            `${server.ip}:${PORTS.nginxTls}`,
            certs.client,
          ),
        ),
      );
    }
    if (def.mtls) await b.waitForCertificates();
    return b;
  }

  /** Certificates first, so no measured connection waits for one. */
  private async waitForCertificates(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const ids = (
        await Promise.all(this.sbx.state.nodes.map((n) => fetchStatus(n.adminSocket)))
      ).flatMap((s) => s.identities);
      if (ids.length > 0 && ids.every((x) => x.serial)) return;
      await sleep(50);
    }
    throw new Error(`sandbox ${this.sbx.state.name}: the agents got no certificates within 10 s`);
  }

  /** Status codes of a GET and a POST from the client pod to url (a proof of which path answers). */
  async probe(
    client: string,
    url: string,
  ): Promise<{ get: number | string; post: number | string }> {
    const p = this.pod(client);
    const script = `
import http from 'node:http';
const one = (method) => new Promise((done) => {
  const r = http.request(${JSON.stringify(url)}, { method, timeout: 5000 }, (res) => { res.resume(); res.on('end', () => done(res.statusCode)); });
  r.on('timeout', () => r.destroy(new Error('TIMEOUT')));
  r.on('error', (e) => done(e.code ?? e.message));
  r.end();
});
console.log(JSON.stringify({ get: await one('GET'), post: await one('POST') }));
`;
    return lastJson(await runInPod({ netnsPath: p.netns, cgroupDir: p.cgroup }, script));
  }

  async down(): Promise<void> {
    for (const p of this.proxies) p.stop();
    await this.sbx.down();
  }
}
