// What crosses the wire to a pod's HBONE port, as tcpdump captured it inside
// the pod's netns: TLS records or not, and whether a plaintext marker shows.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WireSummary {
  /** TCP segments with payload sent to the port. */
  segments: number;
  /** Of those, how many begin with a TLS record header (content type, 0x03 0x0N, length). */
  tlsRecords: number;
  /** TLS handshake records among them (a new session's ClientHello). */
  handshakes: number;
  /** Whether the marker appeared in any payload, either way. */
  plaintextSeen: boolean;
}

const LINKTYPE_ETHERNET = 1;

/** Reads a classic pcap file of Ethernet frames. Pure. */
export function summarizeCapture(pcap: Buffer, port: number, marker: string): WireSummary {
  const out: WireSummary = { segments: 0, tlsRecords: 0, handshakes: 0, plaintextSeen: false };
  if (pcap.length < 24) return out;
  const magic = pcap.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && pcap.readUInt32BE(0) !== 0xa1b2c3d4 && pcap.readUInt32BE(0) !== 0xa1b23c4d)
    throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`link type ${u32(20)}, expected Ethernet`);
  const needle = Buffer.from(marker);
  for (let off = 24; off + 16 <= pcap.length; ) {
    const caplen = u32(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.length < 14 || frame.readUInt16BE(12) !== 0x0800) continue; // IPv4 only
    const ip = frame.subarray(14);
    if (ip.length < 20 || ip[9] !== 6) continue; // TCP
    const ihl = (ip[0]! & 0x0f) * 4;
    const total = Math.min(ip.readUInt16BE(2), ip.length);
    const tcp = ip.subarray(ihl, total);
    if (tcp.length < 20) continue;
    const payload = tcp.subarray((tcp[12]! >> 4) * 4);
    if (payload.length === 0) continue;
    if (payload.includes(needle)) out.plaintextSeen = true;
    if (tcp.readUInt16BE(2) !== port) continue;
    out.segments++;
    const type = payload[0]!;
    if (payload.length >= 5 && type >= 20 && type <= 23 && payload[1] === 3 && payload[2]! <= 4) {
      out.tlsRecords++;
      if (type === 22) out.handshakes++;
    }
  }
  return out;
}

/** Runs fn while tcpdump listens on the pod's eth0 for TCP to `port`; summarizes what it saw. */
export async function captureWhile(
  netnsPath: string,
  port: number,
  marker: string,
  fn: () => Promise<void>,
): Promise<WireSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-wire-'));
  const file = join(dir, 'hbone.pcap');
  const dump = spawn(
    'nsenter',
    [
      `--net=${netnsPath}`,
      'tcpdump',
      // Keep root: the capture file lives in a directory only root may write.
      '-Z',
      'root',
      '-i',
      'eth0',
      // Each packet as it comes: the ring's block timeout would hold a short exchange back.
      '--immediate-mode',
      '-U',
      '-n',
      '-w',
      file,
      'tcp',
      'port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let err = '';
      dump.stderr!.on('data', (d) => {
        err += d;
        if (err.includes('listening on')) resolve();
      });
      dump.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err.trim()}`)));
      dump.once('error', reject);
    });
    await fn();
    // A moment lets the last packets land in the file.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    if (dump.exitCode === null) {
      const gone = new Promise((r) => dump.once('exit', r));
      dump.kill('SIGINT');
      await gone;
    }
  }
  try {
    return summarizeCapture(readFileSync(file), port, marker);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
