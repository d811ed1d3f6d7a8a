// The other side of the admin API: one GET, JSON back. Used by the CLI
// (status, observe, policy trace --live), the demo and the tests.
import { request } from 'node:http';
import type { AccessEntryJson, AgentStatus } from '../telemetry/index.ts';

/** GETs `path` from the agent listening on `socketPath`; a non-200 answer rejects with its error. */
export function adminGet<T>(socketPath: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    // A connection per request (no kept-alive agent): after a handover the socket path leads
    // to the new agent, and a kept-alive connection would still reach the old one.
    const req = request({ socketPath, path, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        let v: unknown;
        try {
          v = JSON.parse(body);
        } catch (e) {
          reject(e);
          return;
        }
        if (res.statusCode !== 200) {
          reject(new Error((v as { error?: string })?.error ?? `agent answered ${res.statusCode}`));
          return;
        }
        resolve(v as T);
      });
    });
    req.on('error', (e) => reject(new Error(`no agent answers on ${socketPath} (${e.message})`)));
    req.end();
  });
}

export function fetchStatus(socketPath: string): Promise<AgentStatus> {
  return adminGet<AgentStatus>(socketPath, '/status');
}

export function fetchAccessLog(socketPath: string): Promise<AccessEntryJson[]> {
  return adminGet<AccessEntryJson[]>(socketPath, '/access-log');
}

/** GETs `path` as text (the metrics' exposition format); a non-200 answer rejects with its body. */
export function adminText(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(body)
          : reject(new Error(body.trim() || `agent answered ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new Error(`no agent answers on ${socketPath} (${e.message})`)));
    req.end();
  });
}
