// What the L7 benches share: the destination's HTTP rule of the "inbound L7 rule" rows, and
// running a command for its output.
import type { AuthorizationPolicy } from '../agent/src/state/authz-types.ts';
import { spawnOwned } from './teardown.ts';

/** Only GET reaches the `remote2` pod: every request is authorized per request at the destination. */
export const getOnlyPolicy: AuthorizationPolicy = {
  namespace: 'shop',
  name: 'get-only',
  apiVersion: 'security.istio.io/v1',
  action: 'ALLOW',
  selector: { matchLabels: { app: 'remote2' } },
  rules: [
    {
      to: [
        {
          ports: [],
          notPorts: [],
          methods: ['GET'],
          notMethods: [],
          paths: [],
          notPaths: [],
          hosts: [],
          notHosts: [],
        },
      ],
    },
  ],
};

/**
 * A command's standard output; rejects with its standard error when it fails.
 * The command is a child of the bench run (bench/teardown.ts).
 */
export function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawnOwned(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => {
      out += d;
    });
    c.stderr!.on('data', (d) => {
      err += d;
    });
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]}: ${err}`))));
  });
}
