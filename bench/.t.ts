import { mkdtempSync } from 'node:fs';
import { Cleanup } from '../agent/src/sandbox/cleanup.ts';
import { lastJson, runInPod } from '../agent/src/sandbox/exec.ts';
import { FootprintBox } from './footprint-box.ts';
import { fixedRateClient } from './footprint-programs.ts';
import { killAllInPods } from './pod-exec.ts';

const c = new Cleanup();
const b = await FootprintBox.up(
  { id: 'x', what: 'x', env: {} },
  7,
  mkdtempSync('/tmp/fpt-'),
  [],
  c,
);
try {
  for (const [pod, srv, rate, conns] of [
    ['dclient', 'dremote', 100, 4],
    ['client', 'remote', 100, 4],
    ['client', 'remote', 100, 1],
    ['client', 'local', 100, 4],
  ] as const) {
    const r = await runInPod(
      b.placement(pod),
      fixedRateClient(`http://${b.pod(srv).ip}:8080/`, rate, 2, conns),
      60000,
    );
    console.log(pod, srv, rate, conns, r.stdout.trim().split('\n').pop());
  }
} finally {
  killAllInPods();
  await b.down();
  c.dispose();
}
