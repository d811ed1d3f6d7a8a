// Small programs run inside a pod (a netns, often also a cgroup) by runInPod.

/** Connects, reads the first chunk; prints {remote, remotePort, data} or {error}. */
export function connectScript(host: string, port: number): string {
  return `
import net from 'node:net';
const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.setTimeout(5000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
s.once('connect', () => {
  const peer = { remote: s.remoteAddress, remotePort: s.remotePort, localPort: s.localPort };
  s.once('data', (d) => { console.log(JSON.stringify({ ...peer, data: d.toString() })); s.destroy(); });
});
s.once('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;
}

export interface ConnectResult {
  remote?: string;
  remotePort?: number;
  localPort?: number;
  data?: string;
  error?: string;
}
