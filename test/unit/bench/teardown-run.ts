// A bench run in small, for teardown.test.ts, started as a process: the run's
// temp dir and cleanup (bench/teardown.ts), nginx by the benches' own starter,
// a Node child as the L7 bench's gRPC app is started, and the L7 mesh's
// destination in a process of its own (a fork), as bench/l7.ts has them.
// Prints the pids and the temp dir as one JSON line, then waits for a signal.
//   node teardown-run.ts TAG NGINX_PORT
import { processTree } from '../../../bench/cpu.ts';
import { startLocalNginx } from '../../../bench/nginx.ts';
import { appConf } from '../../../bench/nginx-conf.ts';
import { benchCleanup, benchTempDir, killAtCleanup, spawnOwned } from '../../../bench/teardown.ts';
import { l7Mesh } from '../../support/l7-mesh.ts';

const [tag, port] = process.argv.slice(2).map(Number);
const cleanup = benchCleanup();
const dir = benchTempDir(cleanup, 'weft-bench-teardown-');
const m = await l7Mesh(tag!, { echo: false, destination: 'process' });
killAtCleanup(cleanup, 'destination process', m.pids);
const nginx = await startLocalNginx(dir, 'app', (d) => appConf({ dir: d }, port!, '127.0.0.1'));
// The pid file comes before the worker: wait for it, so every process is listed.
for (let i = 0; i < 100 && processTree(nginx.child.pid!).length < 2; i++)
  await new Promise((r) => setTimeout(r, 20));
const app = spawnOwned([process.execPath, '-e', 'setInterval(() => {}, 1000)'], {
  stdio: 'ignore',
});
process.stdout.write(
  `${JSON.stringify({
    dir,
    nginx: processTree(nginx.child.pid!),
    app: app.pid,
    destination: m.pids,
  })}\n`,
);
setInterval(() => {}, 1000);
