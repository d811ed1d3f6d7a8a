// The import direction of agent/src, checked by `make check` (and a unit test).
// Rooms are listed lowest first: a room may import only rooms listed before it,
// so data flows one way (sources → state → compilers → tables → datapath and
// proxy). docs/architecture.md, "Rooms and import direction", explains each room.
const layers = [
  'config',
  'state',
  'tables',
  'identity',
  'discovery',
  'sources',
  'policy',
  'compile',
  'datapath',
  'telemetry',
  'l7',
  'proxy',
  'admin',
  'handover',
  'agent',
  'issuer',
  'check',
  'sandbox',
  'cli',
  'demo',
];

const room = (name) => `^agent/src/${name}/`;

const upward = layers.map((name, i) => ({
  name: `layer-${name}`,
  severity: 'error',
  comment: `${name}/ may import only ${layers.slice(0, i).join(', ') || 'no other room'}`,
  from: { path: room(name) },
  to: { path: `^agent/src/(${layers.slice(i + 1).join('|')})/` },
}));

module.exports = {

  forbidden: [
    ...upward,
    {
      name: 'apply-imports-no-compiler',
      severity: 'error',
      comment: 'datapath/, proxy/ and telemetry/ apply tables (tables/) and never run a compiler',
      from: { path: '^agent/src/(datapath|l7|proxy|telemetry)/' },
      to: { path: '^agent/src/compile/' },
    },
    {
      name: 'policy-evaluates-only',
      severity: 'error',
      comment: 'policy/ holds evaluators and the trace: objects come parsed (state/), never from a parser',
      from: { path: '^agent/src/policy/' },
      to: { path: '^agent/src/sources/' },
    },
    {
      name: 'unlisted-room',
      severity: 'error',
      comment: 'every folder of agent/src is a room in the layer list',
      from: { path: '^agent/src/', pathNot: `^agent/src/(${layers.join('|')})/` },
      to: {},
    },
    {
      name: 'public-face',
      severity: 'error',
      comment:
        "another room's files are reached through its face: its index.ts, or a sub-folder's index.ts (a part that loads alone, such as sources/kubernetes/); type imports too",
      from: { path: '^agent/src/([^/]+)/' },
      to: { path: '^agent/src/[^/]+/', pathNot: ['^agent/src/$1/', '/index\\.ts$'] },
    },
    {
      name: 'own-room-direct',
      severity: 'error',
      comment: "a room's own files import each other directly, never through the room's index.ts",
      from: { path: '^agent/src/([^/]+)/.+', pathNot: '^agent/src/[^/]+/index\\.ts$' },
      to: { path: '^agent/src/$1/index\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles, within a room either',
      from: { path: '^agent/src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|build)/' },
    // `import type` counts: a type is as much a dependency as a value.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
