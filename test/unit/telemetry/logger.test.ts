// The log: JSON lines with a real level, or one short line each on a terminal.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logLevel, prettyLine } from '../../../agent/src/telemetry/logger.ts';

function sink() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { out, lines };
}

describe('createLogger', () => {
  it('writes what its level lets through, as JSON with level, name, time and message', () => {
    const { out, lines } = sink();
    const log = createLogger({ name: 'agent', level: 'info', out, pretty: false });
    log.debug('hidden');
    log.info('enrolled shop/a');
    log.warn('apply failed: x');
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((l) => [l.level, l.name, l.msg])).toEqual([
      ['info', 'agent', 'enrolled shop/a'],
      ['warn', 'agent', 'apply failed: x'],
    ]);
    expect(new Date(parsed[0].time).getTime()).toBeGreaterThan(0);
  });

  it('is short and coloured on a terminal', () => {
    const { out, lines } = sink();
    createLogger({ name: 'issuer', level: 'debug', out, pretty: true }).debug('hello');
    const esc = String.fromCharCode(27);
    expect(lines[0]!.replaceAll(esc, 'ESC')).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} ESC\[90mDEBUG\s*ESC\[0m issuer: hello$/,
    );
    expect(
      prettyLine('{"time":"2026-01-01T00:00:00.000Z","level":"warn","name":"a","msg":"m","k":1}'),
    ).toContain('a: m k=1');
  });

  it('names the levels there are when given another', () => {
    expect(() => logLevel('agent', 'trace')).toThrow(
      'agent: --log-level is one of debug, info, warn, error, not trace',
    );
  });
});
