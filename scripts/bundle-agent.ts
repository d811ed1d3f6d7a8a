// make build: the CLI's sources bundled into build/agent/bundle/ (esbuild; node_modules stay
// outside, imported as they are), which bin/weft runs for `weft agent` while it is newer than
// every file of agent/src. One file of plain JavaScript instead of ~300 TypeScript modules:
// Node need not load its type stripper (a WebAssembly module that stays in memory), and the
// agent starts about 29 MiB smaller (docs/performance.md). The sources stay the truth: bin/weft
// runs them whenever the bundle is older, and so does everything but the agent.
//
// The bundle sits three directories below the repository, as agent/src/<room>/<file>.ts does,
// so paths made from import.meta.url (the addon, package.json) resolve the same from both.
// Dynamic imports become chunks of their own and load only when asked for (the Kubernetes
// client, OpenTelemetry), as they do from the sources.
//
// node:http is taken through require, not Node's ESM face of it. That face reads every
// export once, and three of them (WebSocket, CloseEvent, MessageEvent) are getters that load
// Node's bundled undici with its web streams, for classes the agent never uses: 3.4 MiB of
// an idle agent's RSS, 13 MiB in an empty Node (docs/performance.md). The bundle's node:http is a
// module that requires the real one and exports its plain (non-getter) properties by name,
// so a getter imported by name is a build error, not a silent copy of its first value.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build, type Plugin } from 'esbuild';

const HTTP_NS = 'weft-http-through-require';
const plainHttpExports = Object.entries(
  Object.getOwnPropertyDescriptors(createRequire(import.meta.url)('node:http')),
)
  .filter(([name, d]) => !d.get && /^[A-Za-z]\w*$/.test(name))
  .map(([name]) => name);

const httpThroughRequire: Plugin = {
  name: 'node-http-through-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http$/ }, () => ({ path: 'node:http', namespace: HTTP_NS }));
    b.onLoad({ filter: /.*/, namespace: HTTP_NS }, () => ({
      loader: 'js',
      contents: [
        "import { createRequire } from 'node:module';",
        "const http = createRequire(import.meta.url)('node:http');",
        'export default http;',
        `export const { ${plainHttpExports.join(', ')} } = http;`,
      ].join('\n'),
    }));
  },
};

const out = new URL('../build/agent/bundle/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { main: new URL('../agent/src/cli/main.ts', import.meta.url).pathname },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [httpThroughRequire],
});
