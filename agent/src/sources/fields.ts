// What Kubernetes allows in names, label keys and values and ports, and the small value
// tests every object parser shares (manifests, NetworkPolicy, AuthorizationPolicy,
// label selectors), so that all of them accept the same things and word errors alike.

const labelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNameRe = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const DNS1123_LABEL_WHAT =
  "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
export const DNS1123_SUBDOMAIN_WHAT =
  "a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and '-', at most 253 characters)";
export const PORT_NAME_WHAT =
  "a port name (at most 15 lowercase letters, digits and '-', with at least one letter, no '--', not starting or ending with '-')";
export const LABEL_KEY_WHAT =
  "a label key ([prefix/]name: name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; prefix a DNS-1123 subdomain)";
export const LABEL_VALUE_WHAT =
  "a label value (a string of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty)";

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && labelRe.test(s);
}

/** Dot-separated DNS-1123 labels, at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => labelRe.test(l));
}

/** IANA_SVC_NAME, as Kubernetes checks named ports. */
export function isPortName(s: string): boolean {
  return (
    s.length <= 15 &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) &&
    /[a-z]/.test(s) &&
    !s.includes('--')
  );
}

export function isPortNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** A label (or annotation) key: `[prefix/]name`, prefix a DNS subdomain, name ≤ 63. */
export function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.pop() ?? '';
  const prefix = parts[0];
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return false;
  return name.length <= 63 && qualifiedNameRe.test(name);
}

export function isLabelValue(v: string): boolean {
  return v === '' || (v.length <= 63 && qualifiedNameRe.test(v));
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** YAML's null and a missing key mean the same to Kubernetes. */
export function isAbsent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

/** `.app`, or `["weft.dev/mesh"]` for keys a dotted path would garble. */
export function fieldKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** What was found, for messages: `nothing`, `a map`, `the string "80"`, `the number 70000`. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') {
    const s = v.length > 80 ? `${v.slice(0, 77)}...` : v;
    return `the string ${JSON.stringify(s)}`;
  }
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  if (typeof v === 'object') return 'a map';
  return typeof v;
}
