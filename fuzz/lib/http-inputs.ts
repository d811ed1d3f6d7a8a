// Inputs for the L7 front: requests built from parts (request lines, headers, bodies
// with Content-Length or chunked framing), then mutated at the byte level. Seeded, so
// a run can be repeated.

/** xorshift32: fast and repeatable. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** 0 <= n < max */
  int(max: number): number {
    return this.next() % max;
  }
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const METHODS = [
  'GET',
  'GET',
  'POST',
  'PUT',
  'HEAD',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'get',
  'G ET',
  '',
  'GET\0',
  'PRI',
  'M-SEARCH',
  'GE\x7fT',
];
const TARGETS = [
  '/',
  '/items',
  '/items/1',
  '/items/../admin',
  '//items/%31',
  '/%2e%2e/admin',
  '/items?x=1#f',
  '/items;x',
  '*',
  'http://cart/items',
  'http://cart:8080',
  'cart:8080',
  '/items/\xff\xfe',
  '/a b',
  '/items%00',
  '/items/%',
  '%2F',
  '',
  '/\r/x',
  '/items\t',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/1.1 ',
  'http/1.1',
  'HTTP/1.10',
  'HTTP/0.9',
  '',
  'HTTP/1.1\0',
  'HTTP/9.9',
  'HTTP/1',
];
const EOLS = [
  '\r\n',
  '\r\n',
  '\r\n',
  '\r\n',
  '\r\n',
  '\r\n',
  '\r\n',
  '\n',
  '\r',
  '\r\r\n',
  '\n\r',
  ' \r\n',
];
const HOSTS = [
  'cart',
  'CART',
  'cart:8080',
  '',
  'cart\0',
  'cart.shop.svc.cluster.local',
  'evil',
  '[::1]',
  'cart, evil',
  'cart:99999',
];
const LENGTHS = [
  '0',
  '3',
  '-1',
  '1e3',
  ' 3',
  '3,3',
  '3, 4',
  '99999999999999999999',
  '0x10',
  '',
  '+3',
  '18446744073709551616',
  '4294967296',
  '003',
];
const CODINGS = [
  'chunked',
  'chunked',
  'gzip, chunked',
  'chunked, gzip',
  'Chunked',
  'chunked ',
  'xchunked',
  'identity',
  'chunked\0',
  ' chunked',
  'gzip,chunked',
  'chunked, chunked',
  'deflate',
  '',
];
const CHUNK_SIZES = [
  '0',
  '1',
  '3',
  'a',
  'A',
  '00000003',
  'ffffffffffffffff',
  'fffffffffffffffff',
  '-1',
  '1;ext=x',
  '1 ;x',
  ' 1',
  '0x1',
  'g',
  '',
  '1\0',
  '7fffffff',
  '100000000',
];
const NAME_CHARS =
  'abcdefghijklmnopqrstuvwxyz-_.~!#$%&\'*+^`|0123456789 :\t\0\x7f\xff()<>@,;"/[]?={}';

function token(r: Rng, chars: string, max: number): string {
  let s = '';
  for (let n = 1 + r.int(max); n > 0; n--) s += chars[r.int(chars.length)];
  return s;
}

function bytes(r: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(256));
  return s;
}

function header(r: Rng, eol: string): string {
  // Well formed four times in five: one bad header ends the request at the parser.
  if (r.chance(0.8))
    return r.pick([
      `Accept: */*${eol}`,
      `x-user: ${token(r, 'abcdefghij', 8)}${eol}`,
      `Content-Type: text/plain${eol}`,
      `Content-Length: ${r.int(40)}${eol}`,
      `Transfer-Encoding: chunked${eol}`,
      `Transfer-Encoding: gzip, chunked${eol}`,
      `Connection: keep-alive${eol}`,
      `x-block: 1${eol}`,
      `Cookie: a=${token(r, 'abcdef0123', 12)}${eol}`,
    ]);
  switch (r.int(16)) {
    case 0:
    case 1:
      return `Host: ${r.pick(HOSTS)}${eol}`;
    case 2:
      return `Content-Length: ${r.pick(LENGTHS)}${eol}`;
    case 3:
      return `Transfer-Encoding: ${r.pick(CODINGS)}${eol}`;
    case 4:
      return `x-block: ${r.pick(['1', '', '*'])}${eol}`;
    case 5:
      return `Connection: ${r.pick(['close', 'keep-alive', 'upgrade', 'x-hop, close', 'te'])}${eol}`;
    case 6:
      return `${r.pick(['Upgrade: websocket', 'Upgrade: h2c', 'Expect: 100-continue', 'Expect: x', 'TE: trailers', 'Trailer: x-t'])}${eol}`;
    case 7:
      return ` folded continuation${eol}`;
    case 8:
      return `Host : cart${eol}`;
    case 9:
      return `Hostcart${eol}`;
    case 10:
      return `: empty-name${eol}`;
    case 11:
      // Past Node's 16 KiB header limit now and then.
      return `x-big: ${'v'.repeat(r.chance(0.5) ? 100 + r.int(2000) : 16_000 + r.int(8000))}${eol}`;
    case 12:
      return `${token(r, NAME_CHARS, 12)}: ${bytes(r, r.int(20))}${eol}`;
    case 13:
      return `x-n: ${bytes(r, r.int(40))}${eol}`;
    case 14:
      return `Content-Length: ${r.pick(LENGTHS)}${eol}Transfer-Encoding: ${r.pick(CODINGS)}${eol}`;
    default:
      return `x-many: 1${eol}`.repeat(r.int(r.chance(0.05) ? 3000 : 30));
  }
}

function chunked(r: Rng, eol: string): string {
  let s = '';
  for (let n = r.int(4); n > 0; n--) {
    const size = r.chance(0.7) ? (1 + r.int(40)).toString(16) : r.pick(CHUNK_SIZES);
    const real = Number.parseInt(size, 16);
    const len = Number.isFinite(real) && real < 4096 && r.chance(0.8) ? real : r.int(50);
    s += `${size}${eol}${bytes(r, len)}${r.chance(0.9) ? eol : ''}`;
  }
  if (r.chance(0.85)) s += `${r.pick(['0', '0', '00', '0;x=y', '0 '])}${eol}`;
  if (r.chance(0.2)) s += `x-trailer: ${bytes(r, r.int(10))}${eol}`;
  if (r.chance(0.85)) s += eol;
  return s;
}

/** One request: request line, headers, then a body framed (or misframed) as they say. */
function request(r: Rng): string {
  // Mostly well formed, so that requests get past the parser to the policy and the app.
  const eol = r.chance(0.85) ? '\r\n' : r.pick(EOLS);
  const method = r.chance(0.6) ? r.pick(['GET', 'POST', 'HEAD', 'PUT']) : r.pick(METHODS);
  const target = r.chance(0.5)
    ? `/items/${r.int(100)}`
    : r.chance(0.1)
      ? `/${bytes(r, r.int(30))}`
      : r.pick(TARGETS);
  const version = r.chance(0.8) ? 'HTTP/1.1' : r.pick(VERSIONS);
  const line = `${method} ${target} ${version}${eol}`;
  let head = r.chance(0.85) ? `Host: ${r.chance(0.5) ? 'cart' : r.pick(HOSTS)}${eol}` : '';
  for (let n = r.int(r.chance(0.5) ? 2 : 6); n > 0; n--) head += header(r, eol);
  const te = /transfer-encoding: [^\r\n]*chunked/i.test(head);
  const cl = /content-length: ([0-9]+)/i.exec(head);
  let body = '';
  if (te) body = chunked(r, eol);
  else if (cl) {
    const want = Number(cl[1]);
    const n = Number.isSafeInteger(want) && want < 70_000 ? want : r.int(64);
    body = bytes(r, r.chance(0.8) ? n : r.int(n + 8));
  }
  return `${line}${head}${r.chance(0.97) ? eol : ''}${body}`;
}

function mutate(r: Rng, s: string): string {
  for (let n = 1 + r.int(4); n > 0 && s.length > 0; n--) {
    const at = r.int(s.length);
    switch (r.int(6)) {
      case 0:
        s = s.slice(0, at) + String.fromCharCode(r.int(256)) + s.slice(at + 1);
        break;
      case 1:
        s =
          s.slice(0, at) +
          r.pick(['\r', '\n', '\r\n', '\0', ' ', ':', ';', '\t', '0']) +
          s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + r.int(8));
        break;
      case 3: {
        const len = 1 + r.int(16);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      case 4:
        s = s.slice(0, at);
        break;
      default:
        s =
          s.slice(0, at) +
          r.pick([
            '\r\n\r\n',
            'GET / HTTP/1.1\r\n',
            '0\r\n\r\n',
            'Transfer-Encoding: chunked\r\n',
          ]) +
          s.slice(at);
    }
  }
  return s;
}

/** One client connection's bytes: one to three requests, sometimes mutated. */
export function generate(r: Rng): Buffer {
  let s = request(r);
  for (let n = r.int(8) === 0 ? 1 + r.int(2) : 0; n > 0; n--) s += request(r);
  if (r.chance(0.3)) s = mutate(r, s);
  return Buffer.from(s, 'latin1');
}
