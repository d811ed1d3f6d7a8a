// The weft CLI as a user runs it: the real bin/weft script in a child process.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
const weft = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8' });

// Each case starts a Node process (about 0.3 s, more on a loaded 2-core machine).
describe('weft CLI', { timeout: 30_000 }, () => {
  it('prints help with the commands that exist', () => {
    const r = weft('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^weft: a sidecarless service mesh/);
    expect(r.stdout).toMatch(/Usage: weft <command>/);
    expect(r.stdout).toMatch(/\n {2}version {2}Print the weft version/);
    expect(r.stderr).toBe('');
  });

  it('prints the version from package.json', () => {
    const r = weft('version');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^weft ${pkg.version.replace(/\./g, '\\.')} \\(map layout \\d+, node v\\d+`),
    );
    expect(weft('--version').stdout).toBe(r.stdout);
  });

  it('names an unknown command and exits 2', () => {
    const r = weft('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("weft: unknown command 'frobnicate'. Run 'weft --help' for the list.\n");
  });

  it('shows usage on stdout and exits 2 when given nothing', () => {
    const r = weft();
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/Usage: weft/);
  });

  it('names what weft graph cannot take', () => {
    const cases: [string[], string][] = [
      [['-o', 'png'], 'weft: graph: -o takes table, json, dot, mermaid, svg, not png\n'],
      [
        ['--prometheus', 'http://p:9090', '--sandbox', 'x'],
        'weft: graph: --prometheus reads from Prometheus, not from agents: give one\n',
      ],
      [
        ['--prometheus', 'p:9090'],
        'weft: graph: --prometheus takes an http:// or https:// URL, not p:9090\n',
      ],
      [['--count', '2'], 'weft: graph: --count goes with --watch\n'],
      [
        ['--watch', '1', '--count', '0'],
        'weft: graph: --count takes a whole number above 0, not 0\n',
      ],
    ];
    for (const [args, err] of cases) {
      const r = weft('graph', ...args);
      expect(r.stderr).toBe(err);
      expect(r.status).toBe(2);
    }
  });

  it('names a bad --hbone-keepalive before the agent starts anything', () => {
    for (const bad of ['0', '0.0004', '0.05', '-1', 'ten', '', '3601']) {
      const r = weft('agent', `--hbone-keepalive=${bad}`);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        `weft: agent: --hbone-keepalive takes seconds, from 0.1 to 3600, not ${bad}\n`,
      );
    }
  });

  it('names a bad --after-handover or --revision before the agent starts anything', () => {
    let r = weft('agent', '--after-handover', 'linger');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('weft: agent: --after-handover is exit or wait, not linger\n');
    r = weft('agent', '--revision', 'a b');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `weft: agent: --revision takes letters, digits, '.', '_' and '-' (at most 64), not "a b"\n`,
    );
    r = weft('agent', '--health-socket', 'health.sock');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'weft: agent: --health-socket takes an absolute path, not "health.sock"\n',
    );
  });
});
