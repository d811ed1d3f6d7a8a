// The agent's and the issuer's log: pino, one JSON object a line on stderr with
// a real level (`--log-level`), or a short coloured line when stderr is a
// terminal. Lines are rare by design: per-connection trouble is counted and
// reported at most once a second (proxy/contain.ts), never logged per event.
import pino, { type DestinationStream, type Logger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger } from 'pino';

/** The level named, or an error saying which ones there are. */
export function logLevel(cmd: string, v: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(`${cmd}: --log-level is one of ${LOG_LEVELS.join(', ')}, not ${v}`);
}

export interface LoggerOptions {
  /** `agent` or `issuer`: each line's `name`. */
  name: string;
  level: LogLevel;
  /** Default stderr; pretty when it is a terminal (or `pretty` says so). */
  out?: NodeJS.WritableStream & { fd?: number; isTTY?: boolean };
  pretty?: boolean;
}

export function createLogger(o: LoggerOptions): Logger {
  const out = o.out ?? process.stderr;
  const pretty = o.pretty ?? out.isTTY === true;
  // Synchronous: lines are few, and one written just before an exit must not be lost.
  const dest: DestinationStream = pretty
    ? prettyStream(out)
    : out.fd !== undefined
      ? pino.destination({ fd: out.fd, sync: true })
      : { write: (s: string) => void out.write(s) };
  return pino(
    {
      name: o.name,
      level: o.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

const COLOURS: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[31m',
};

/** `12:00:01.234 WARN  agent: message key=value`, coloured by level. */
export function prettyLine(json: string): string {
  const o = JSON.parse(json) as Record<string, unknown>;
  const { time, level, name, msg, ...rest } = o;
  const lv = String(level);
  const extra = Object.entries(rest)
    .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('');
  const at = typeof time === 'string' ? time.slice(11, 23) : '';
  return `${at} ${COLOURS[lv] ?? ''}${lv.toUpperCase().padEnd(5)}\x1b[0m ${name}: ${msg}${extra}\n`;
}

function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return { write: (s: string) => void out.write(prettyLine(s)) };
}
