// How `weft observe` prints a flow: a line of text (verdicts coloured on a
// terminal), a JSON line, or a YAML document. Pure.
import { stringify } from 'yaml';
import type { Flow } from '../../telemetry/index.ts';

const COLOURS = { OPENED: 36, ALLOWED: 32, DENIED: 31, AUDIT: 33 } as const;

function verdictWord(f: Flow): keyof typeof COLOURS {
  if (f.event === 'open') return 'OPENED';
  return f.verdict === 'deny' ? 'DENIED' : f.verdict === 'audit' ? 'AUDIT' : 'ALLOWED';
}

export function formatFlow(f: Flow, colour = false): string {
  const word = verdictWord(f);
  const padded = word.padEnd(7);
  const verdict = colour ? `\x1b[${COLOURS[word]}m${padded}\x1b[0m` : padded;
  const id = f.identity ? ` [${f.identity}]` : '';
  return `${f.time}  ${f.node.padEnd(7)} ${f.source} → ${f.destination}:${f.port}${id}  ${verdict}  ${f.where}: ${f.reason}`;
}

export type FlowOutput = 'text' | 'json' | 'yaml';

export function printFlow(f: Flow, output: FlowOutput, colour: boolean): string {
  if (output === 'json') return `${JSON.stringify(f)}\n`;
  if (output === 'yaml') return `---\n${stringify(f)}`;
  return `${formatFlow(f, colour)}\n`;
}

/** Colour on a terminal unless NO_COLOR asks for none (https://no-color.org); or as told. */
export function useColour(
  mode: string,
  isTTY: boolean,
  env: Record<string, string | undefined>,
): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  return isTTY && !env.NO_COLOR;
}
