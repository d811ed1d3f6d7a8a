// The admin API serves the access log: only on a unix socket of mode 0600 by
// default, with that mode in place before the socket can be reached; TCP only
// when asked for.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { AdminServer, type AdminSource, parseHostPort } from '../../../agent/src/admin/server.ts';
import { adminTcpOption } from '../../../agent/src/cli/commands/agent.ts';
import type { AgentStatus } from '../../../agent/src/telemetry/status.ts';
import { modesWhenListening } from '../../support/socket-watch.ts';

const source: AdminSource = {
  status: () => ({ node: 'node-1' }) as AgentStatus,
  accessLog: () => [{ destination: '10.0.0.1:80' }],
  datapathEvents: () => [],
  flowsSince: () => [],
  trace: () => ({}),
  metricsText: async () => null,
};

function tcpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin API', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-admin-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('listens on a unix socket of mode 0600 only, the mode set before it is reachable', async () => {
    const sock = join(dir, 'agent.sock');
    const { result: admin, seen } = await modesWhenListening(sock, () =>
      AdminServer.start(source, sock),
    );
    try {
      // When the socket started listening, nothing was at its path yet.
      expect(seen).toEqual([null]);
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      expect(admin.tcpAddress).toBeNull();
      await expect(adminGet(sock, '/access-log')).resolves.toEqual([
        { destination: '10.0.0.1:80' },
      ]);
      expect(readdirSync(dir)).toEqual(['agent.sock']); // no temporary directory left
    } finally {
      admin.close();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces a socket a killed agent left, and leaves a successor’s socket alone on close', async () => {
    const sock = join(dir, 'again.sock');
    const first = await AdminServer.start(source, sock);
    const second = await AdminServer.start(source, sock);
    first.close();
    await expect(adminGet(sock, '/status')).resolves.toEqual({ node: 'node-1' });
    second.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('serves TCP only when asked, on the address asked for', async () => {
    const sock = join(dir, 'tcp.sock');
    const admin = await AdminServer.start(source, sock, { tcp: { host: '127.0.0.1', port: 0 } });
    try {
      expect(admin.tcpAddress?.address).toBe('127.0.0.1');
      expect(JSON.parse(await tcpGet(admin.tcpAddress!.port, '/status'))).toEqual({
        node: 'node-1',
      });
    } finally {
      admin.close();
    }
  });

  it('reads --admin-tcp as host:port and refuses what is not', () => {
    expect(parseHostPort('127.0.0.1:15000')).toEqual({ host: '127.0.0.1', port: 15000 });
    expect(parseHostPort('[::1]:15000')).toEqual({ host: '::1', port: 15000 });
    expect(adminTcpOption(undefined, true)).toBeUndefined();
    expect(() => adminTcpOption('15000', false)).toThrow(/takes host:port/);
    expect(() => adminTcpOption('127.0.0.1:99999', false)).toThrow(/takes host:port/);
    expect(() => adminTcpOption('127.0.0.1:15000', true)).toThrow(/contradict/);
  });
});
