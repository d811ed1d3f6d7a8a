// SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md) and the
// weft form of them: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

export interface WorkloadId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const SCHEME = 'spiffe://';
// The spec allows only these; upper case is refused, not folded, so that IDs compare as strings.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;

function fail(id: string, why: string): never {
  throw new Error(`invalid SPIFFE ID ${JSON.stringify(id)}: ${why}`);
}

/** Throws unless `td` is a SPIFFE trust domain name (lower-case letters, digits, `.`, `-`, `_`). */
export function checkTrustDomain(td: string): void {
  if (td === '') throw new Error('invalid trust domain: empty');
  if (td.length > MAX_TRUST_DOMAIN) {
    throw new Error(`invalid trust domain: longer than ${MAX_TRUST_DOMAIN} characters`);
  }
  if (!TRUST_DOMAIN.test(td)) {
    throw new Error(
      `invalid trust domain ${JSON.stringify(td)}: only lower-case letters, digits, '.', '-' and '_' are allowed`,
    );
  }
}

function checkSegment(id: string, seg: string, what: string): void {
  if (seg === '') fail(id, `empty ${what}`);
  if (seg === '.' || seg === '..') fail(id, `${what} may not be '.' or '..'`);
  if (!SEGMENT.test(seg)) {
    fail(id, `${what} ${JSON.stringify(seg)} may hold only letters, digits, '.', '-' and '_'`);
  }
}

/**
 * Any SPIFFE ID, split into trust domain and path segments (none for a trust domain's own ID).
 * Throws with the reason when `id` is not one.
 */
export function parseSpiffeUri(id: string): { trustDomain: string; segments: string[] } {
  if (Buffer.byteLength(id) > MAX_ID_BYTES) fail(id, `longer than ${MAX_ID_BYTES} bytes`);
  if (!id.startsWith(SCHEME)) fail(id, "scheme must be 'spiffe://'");
  const rest = id.slice(SCHEME.length);
  if (rest.includes('?')) fail(id, 'query not allowed');
  if (rest.includes('#')) fail(id, 'fragment not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (trustDomain.includes('@')) fail(id, 'user info not allowed');
  if (trustDomain.includes(':')) fail(id, 'port not allowed');
  if (trustDomain === '') fail(id, 'empty trust domain');
  try {
    checkTrustDomain(trustDomain);
  } catch (e) {
    fail(id, (e as Error).message);
  }
  if (slash < 0) return { trustDomain, segments: [] };
  const segments = rest.slice(slash + 1).split('/');
  if (segments.length === 1 && segments[0] === '') fail(id, 'trailing slash not allowed');
  for (const seg of segments) checkSegment(id, seg, 'path segment');
  return { trustDomain, segments };
}

/** `spiffe://<td>`: the ID of a trust domain itself, as its CA certificates carry it. */
export function trustDomainId(trustDomain: string): string {
  checkTrustDomain(trustDomain);
  return `${SCHEME}${trustDomain}`;
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>`. Throws on a part that cannot appear in one. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const id = `${SCHEME}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  checkTrustDomain(trustDomain);
  checkSegment(id, namespace, 'namespace');
  checkSegment(id, serviceAccount, 'service account');
  return id;
}

/** The parts of a weft workload ID; throws on any other SPIFFE ID or non-ID. */
export function parseSpiffeId(id: string): WorkloadId {
  const { trustDomain, segments } = parseSpiffeUri(id);
  const [ns, namespace, sa, serviceAccount] = segments;
  if (segments.length !== 4 || ns !== 'ns' || sa !== 'sa' || !namespace || !serviceAccount) {
    fail(id, "path must be '/ns/<namespace>/sa/<service-account>'");
  }
  return { trustDomain, namespace, serviceAccount };
}

/** Istio's principal form: the SPIFFE ID without its scheme, `<td>/ns/<ns>/sa/<sa>`. */
export function principal(id: string): string {
  const { trustDomain, segments } = parseSpiffeUri(id);
  return [trustDomain, ...segments].join('/');
}

/** A peer's SPIFFE ID as AuthorizationPolicy reads it, parsed once. */
export interface PeerId {
  readonly identity: string;
  /** Absent unless `identity` is a workload ID: no principal or namespace rule matches then. */
  readonly principal?: string;
  readonly namespace?: string;
}

export function peerId(id: string): PeerId {
  try {
    return { identity: id, principal: principal(id), namespace: parseSpiffeId(id).namespace };
  } catch {
    return { identity: id };
  }
}
