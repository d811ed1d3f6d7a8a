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
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

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
});
