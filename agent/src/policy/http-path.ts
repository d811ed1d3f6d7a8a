// The request target as policy must see it, and as the app then receives it:
// normalized once, so a rule on /admin cannot be stepped around with
// /public/../admin, //admin, /%61dmin or http://host/admin — spellings most
// app frameworks route to /admin. Like Istio's path normalization with
// merged slashes: RFC 3986 dot-segment removal, percent-encoded unreserved
// characters decoded, other escapes (%2F among them) kept as they are. Pure.

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** The normalized origin-form target (path and query), or undefined when it is not one. */
export function normalizeTarget(raw: string): string | undefined {
  let target = raw;
  // Absolute-form (a client talking to a forward proxy): the authority is not ours to route by.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(target);
    target = m?.[1] || '/';
  }
  if (!target.startsWith('/')) return undefined;
  const q = target.search(/[?#]/);
  const path = q < 0 ? target : target.slice(0, q);
  const rest = q < 0 ? '' : target.slice(q).split('#')[0]!;
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (esc, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : esc.toUpperCase();
  });
  if (/%(?![0-9A-F]{2})/.test(decoded)) return undefined;
  return removeDots(decoded.replace(/\/{2,}/g, '/')) + rest;
}

/** RFC 3986 §5.2.4, on an absolute path. */
function removeDots(path: string): string {
  const out: string[] = [];
  const segs = path.split('/').slice(1);
  for (const [i, s] of segs.entries()) {
    const last = i === segs.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      // A trailing dot segment leaves the directory, with its slash.
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}`;
}
