// UDP pod programs: a server that reports every datagram it receives (and can
// answer it), and a client that sends a bounded number of datagrams with
// sendto() or through a connected socket and reports what the kernel said.

export interface UdpResult {
  sent: number;
  /** With keepGoing: how many sends failed. */
  refused?: number;
  error?: string;
  reply?: string;
}

export interface Datagram {
  from: string;
  port: number;
  data: string;
}

/**
 * Binds `port` on every address, prints "listening", then one JSON line per
 * datagram. With `echo`, answers each datagram to its sender with sendto().
 */
export const udpServer = (port: number, o: { echo?: boolean } = {}) => `
import dgram from 'node:dgram';
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  console.log(JSON.stringify({ from: r.address, port: r.port, data: m.toString() }));
  ${o.echo ? 's.send(m, r.port, r.address, (e) => { if (e) console.log(JSON.stringify({ echoError: e.code })); });' : ''}
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
s.bind(${port}, '0.0.0.0', () => console.log('listening'));
`;

/**
 * Sends `count` datagrams of `data` to host:port (sendto, or send on a socket
 * connected first), then waits up to `waitMs` for an answer when asked to.
 */
export const udpClient = (
  host: string,
  port: number,
  o: {
    data?: string;
    connect?: boolean;
    count?: number;
    waitMs?: number;
    keepGoing?: boolean;
  } = {},
) => `
import dgram from 'node:dgram';
const s = dgram.createSocket(${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')});
const out = ${o.keepGoing ? '{ sent: 0, refused: 0 }' : '{ sent: 0 }'};
let done = false;
const finish = () => {
  if (done) return;
  done = true;
  console.log(JSON.stringify(out));
  process.exit(0);
};
s.on('message', (m) => { out.reply = m.toString(); finish(); });
s.on('error', (e) => { out.error = e.code; finish(); });
const data = ${JSON.stringify(o.data ?? 'ping')};
const send = (i) => {
  if (i === ${o.count ?? 1}) {
    if (${o.waitMs ?? 0} > 0) setTimeout(finish, ${o.waitMs ?? 0});
    else finish();
    return;
  }
  const cb = (e) => {
    ${o.keepGoing ? 'if (e) { out.refused++; out.error = e.code; return send(i + 1); }' : ''}
    if (e) { out.error = e.code; return finish(); }
    out.sent++;
    send(i + 1);
  };
  ${o.connect ? 's.send(data, cb);' : `s.send(data, ${port}, ${JSON.stringify(host)}, cb);`}
};
${o.connect ? `s.connect(${port}, ${JSON.stringify(host)}, (e) => { if (e) { out.error = e.code; return finish(); } send(0); });` : 'send(0);'}
`;
