// Command-line parsing shared by the commands: node:util's parseArgs with
// errors that say which command and how to get help.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}. Run 'weft ${command} --help'.`);
  }
}

export function required(command: string, values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '')
    throw new UsageError(`${command}: --${name} is required. Run 'weft ${command} --help'.`);
  return v;
}

/** A duration option in seconds (fractions allowed), as milliseconds; undefined when absent. */
export function secondsOption(
  command: string,
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(
      `${command}: --${name} takes seconds, from ${min} to ${max}, not ${String(v)}`,
    );
  return Math.round(n * 1000);
}

/** An optional port option (0 lets the kernel pick); undefined when not given. */
export function portOption(command: string, values: Record<string, unknown>, name: string) {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${command}: --${name} takes a port number, not ${String(v)}`);
  return n;
}
