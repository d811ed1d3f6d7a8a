// Starting and stopping the nginx instances, inside pods or on this host's
// loopback addresses (the L7 benches).
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTree, vmRssKiB } from './cpu.ts';
import { findCommand, type Pod, spawnInPod } from './pod-exec.ts';
import { spawnOwned } from './teardown.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Nginx {
  name: string;
  child: ChildProcess;
  /** VmRSS of the master and its workers, KiB. */
  rssKiB(): number;
  stop(): void;
}

/**
 * Starts nginx with `conf(dir)` in the pod; resolves once it has written its
 * pid file, which nginx does after binding its listeners.
 */
export function startNginx(
  pod: Pod,
  root: string,
  name: string,
  conf: (dir: string) => string,
): Promise<Nginx> {
  return started(root, name, conf, (argv) => spawnInPod(pod, argv));
}

/**
 * Starts nginx with `conf(dir)` in this host's network namespace, as a child
 * the bench run's cleanup stops (bench/teardown.ts); resolves as startNginx does.
 */
export function startLocalNginx(
  root: string,
  name: string,
  conf: (dir: string) => string,
): Promise<Nginx> {
  return started(root, name, conf, (argv) =>
    spawnOwned(argv, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
}

async function started(
  root: string,
  name: string,
  conf: (dir: string) => string,
  spawnIt: (argv: string[]) => ChildProcess,
): Promise<Nginx> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf(dir));
  const errorLog = join(dir, 'error.log');
  const child = spawnIt([
    findCommand('nginx') ?? 'nginx',
    '-p',
    dir,
    '-c',
    confPath,
    '-e',
    errorLog,
  ]);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
      throw new Error(`nginx ${name} exited at start: ${(stderr + log).trim()}`);
    }
    if (existsSync(join(dir, 'nginx.pid'))) {
      return {
        name,
        child,
        rssKiB: () =>
          child.pid ? processTree(child.pid).reduce((n, pid) => n + vmRssKiB(pid), 0) : 0,
        // Workers outlive a killed master, so the whole tree goes.
        stop: () => {
          for (const pid of child.pid ? processTree(child.pid) : []) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // gone already
            }
          }
        },
      };
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`nginx ${name} did not start within 5 s: ${stderr.trim()}`);
}
