// The agent's Node flags as bin/weft gives them, for benches that start the agent's pieces
// in Node processes of their own: one source of truth, the launcher.
import { readFileSync } from 'node:fs';

export function agentNodeFlags(): string[] {
  const bin = readFileSync(new URL('../bin/weft', import.meta.url), 'utf8');
  const m = /^\s*defaults="([^"]*)"/m.exec(bin);
  if (!m) throw new Error('bin/weft: no defaults="…" line for the agent Node flags');
  return m[1]!.split(/\s+/).filter(Boolean);
}
