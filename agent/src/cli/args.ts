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
