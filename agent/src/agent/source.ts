// Source wiring: where snapshots come from (a manifest directory or the
// Kubernetes API), and what the agent logs of the source's warnings and rejections.

import type { SnapshotSource } from '../sources/index.ts';
import { ManifestSource } from '../sources/manifests/index.ts';
import type { ObjectError, Snapshot } from '../state/index.ts';
import type { AgentOptions } from './options.ts';

/** The source the options name: a cluster source wins over a manifest directory. */
export function openSource(opts: AgentOptions, log: (line: string) => void): SnapshotSource {
  if (!opts.source && !opts.manifests)
    throw new Error('agent: neither a manifest directory nor a cluster source was given');
  const source: SnapshotSource = opts.source ?? new ManifestSource(opts.manifests!);
  source.on('warning', (w: string) => log(`source: ${w}`));
  return source;
}

/** Starts the source; its first snapshot is returned, later ones go to `onSnapshot`. */
export async function startSource(
  source: SnapshotSource,
  log: (line: string) => void,
  onSnapshot: (s: Snapshot) => void,
): Promise<Snapshot> {
  const first = await source.start();
  source.on('snapshot', onSnapshot);
  source.on('errors', (errs: ObjectError[]) => {
    for (const e of errs)
      log(`manifest rejected: ${e.file}: ${e.object}: ${e.field}: ${e.message}`);
  });
  return first;
}
