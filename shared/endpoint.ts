/**
 * The ONE normaliser for peer endpoints (docs/SECURITY.md §8, docs/PROTOCOL.md "Endpoints").
 * A federation endpoint is a base URL to which `/_paracord/federation/v1/...` is appended, so
 * the protocol defines its path: empty. Whatever names an endpoint — the owner in the admin API,
 * an invite link, a peer's `POST /peering` body, a discovery document — goes through here:
 *   - scheme http or https only (http only where `--insecure-http` allows it, checked by HttpClient);
 *   - no userinfo, no query, no fragment, no path other than `/`;
 *   - the host is checked on the RAW text with the server-name canonicaliser before any URL
 *     parser sees it (a WHATWG parser turns `0x7f000001`, `2130706433`, `127.1` into 127.0.0.1);
 *   - the result is `scheme://host[:port]` (lowercase, no trailing slash, default port dropped).
 */
import { canonicalServerName } from './identifiers.ts';

/**
 * What the refusal shows of an authority it could not read: someone else's text (a link, a peer's
 * request), quoted, cut, and every character outside printable ASCII written out (a host name is
 * ASCII: a bidi override there would reorder the owner's screen).
 */
function shownAuthority(authority: string): string {
  let shown = '';
  for (const c of authority) {
    // Printable ASCII but the quote and the backslash as it is; anything else written out (\u{…}).
    const next = c >= ' ' && c <= '~' && c !== '"' && c !== '\\' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`;
    if (shown.length + next.length > 100) return `"${shown}"…`;
    shown += next;
  }
  return `"${shown}"`;
}

export type EndpointCheck = { ok: true; endpoint: string; url: URL } | { ok: false; reason: string };

const RAW = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\\]*)(.*)$/s;

export function normalizeEndpoint(value: string): EndpointCheck {
  if (typeof value !== 'string' || value.length === 0 || value.length > 300) return { ok: false, reason: 'an endpoint must be an http(s) URL of at most 300 characters' };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return { ok: false, reason: 'an endpoint must not contain spaces or control characters' };
  const match = RAW.exec(value);
  if (!match) return { ok: false, reason: 'an endpoint must look like https://host[:port]' };
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!;
  const rest = match[3]!;
  if (scheme !== 'https' && scheme !== 'http') return { ok: false, reason: `unsupported scheme ${scheme}: (only https, or http with --insecure-http)` };
  if (authority.includes('@')) return { ok: false, reason: 'an endpoint must not carry a user name or password' };
  if (rest.includes('?')) return { ok: false, reason: 'an endpoint must not carry a query' };
  if (rest.includes('#')) return { ok: false, reason: 'an endpoint must not carry a fragment' };
  if (rest !== '' && rest !== '/') return { ok: false, reason: 'an endpoint must not carry a path (the protocol defines the paths)' };
  const hostPort = canonicalServerName(authority);
  if (hostPort === null) {
    return { ok: false, reason: `${shownAuthority(authority)} is not a host name, a dotted-quad IPv4 address or a bracketed IPv6 address (with an optional port)` };
  }
  let url: URL;
  try {
    url = new URL(`${scheme}://${hostPort}/`);
  } catch {
    return { ok: false, reason: `${shownAuthority(authority)} is not a valid host` };
  }
  // Paranoia: the URL parser must not have reinterpreted the host we checked.
  if (url.host !== hostPort && `${url.host}:${scheme === 'https' ? 443 : 80}` !== hostPort) {
    return { ok: false, reason: `"${authority}" is not a canonical host` };
  }
  return { ok: true, endpoint: url.origin, url };
}

/** Zod-friendly predicate: the value is an acceptable endpoint (normalised form may differ). */
export function isAcceptableEndpoint(value: string): boolean {
  return normalizeEndpoint(value).ok;
}

/**
 * What an owner may paste to name a server: its base URL (`https://host`), its federation URL
 * (`https://host/_paracord/federation/v1`, what a Paracord reference admin knows), or any link
 * on it (an invite page): the ORIGIN is kept and checked by normalizeEndpoint (userinfo, other
 * schemes and non-canonical hosts are still refused). Only for what the owner types: a peer's
 * documents keep the strict rule.
 */
export function endpointFromAnyUrl(value: string): EndpointCheck {
  const text = typeof value === 'string' ? value.trim() : '';
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]*)([/?#].*)?$/s.exec(text);
  if (!match) return { ok: false, reason: 'give the server\'s address as https://host[:port] (a path such as /_paracord/federation/v1 is fine)' };
  return normalizeEndpoint(match[1]!);
}

/**
 * Why `value` cannot be the URL friends reach this node at (`serve --public-url`, the setup
 * wizard's `public_url`), or null: what normalizeEndpoint takes (http(s), a canonical host, no
 * user name or password, no query, fragment or path, at most 300 characters). It is published in
 * discovery, and peers take a federation endpoint with no other path than the protocol's: the
 * wizard took `https://u:p@host/?x#y`, and a path, and published them as they were (reviews,
 * 2026-12-01). The words say what the address must be, without "an endpoint".
 */
export function publicUrlProblem(value: string): string | null {
  const check = normalizeEndpoint(value);
  return check.ok ? null : check.reason.replace(/^an endpoint /, '');
}
