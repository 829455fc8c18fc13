import type { Middleware } from 'koa';

/**
 * One path check for a whole app (issue #14, item 12), run before every other check: a request
 * whose path is not already in its one canonical spelling is refused with 404 before any pause,
 * auth or route decision looks at it. Otherwise two checks can read two spellings differently —
 * `/_PARACORD/federation/…` was not "a federation path" to the pause check, yet the
 * case-insensitive router answered it.
 *
 * Canonical means: starts with "/"; no empty segment ("//"), no "." or ".." segment and no
 * segment ending in a dot; no backslash, control or non-ASCII character; no percent-encoding of
 * a character that needs none (letters, digits, "-._~"), of "/", "\\", "%" or a control character;
 * and the fixed prefixes (`/_paracord/`, `/.well-known/`) in exactly that case.
 * Routers are case-sensitive and strict on top of this (http/router.ts), so a path that
 * passes here reaches the route it spells and no other.
 */
const CASE_EXACT_PREFIXES = ['/_paracord/', '/.well-known/'];
// Printable ASCII without backslash; the path part of the URL only.
const ALLOWED = /^\/[\x21-\x5b\x5d-\x7e]*$/;
const PERCENT = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

const MALFORMED = 'has a malformed percent-encoding';

export function pathProblem(path: string): string | null {
  if (!ALLOWED.test(path)) return 'contains characters a path may not carry';
  if (path.includes('%')) {
    if (/%(?![0-9A-Fa-f]{2})/.test(path)) return MALFORMED;
    for (const [, hex] of path.matchAll(PERCENT)) {
      const char = String.fromCharCode(parseInt(hex!, 16));
      if (UNRESERVED.test(char) || char === '/' || char === '\\' || char === '%' || parseInt(hex!, 16) < 0x20) {
        return 'percent-encodes a character that must be written plainly';
      }
    }
  }
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    // A single trailing slash ends the path; it is still a different path (strict routers).
    if (segment === '' && i !== segments.length - 1) return 'has an empty segment';
    if (segment === '.' || segment === '..' || segment.endsWith('.')) return 'has a dot segment';
  }
  const lower = path.toLowerCase();
  for (const prefix of CASE_EXACT_PREFIXES) {
    if (lower.startsWith(prefix) && !path.startsWith(prefix)) return `must start with ${prefix} in lowercase`;
    if (lower === prefix.slice(0, -1) && path !== prefix.slice(0, -1)) return `must be ${prefix.slice(0, -1)} in lowercase`;
  }
  return null;
}

export function canonicalPath(): Middleware {
  return async (ctx, next) => {
    // The raw request target, not Koa's parsed view of it: what was sent is what is judged.
    const target = ctx.req.url ?? '';
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    const problem = pathProblem(path);
    if (problem) {
      // A path that is not valid percent-encoding is a malformed request (400); any other spelling
      // that is not the canonical one names no endpoint (404).
      const malformed = problem === MALFORMED;
      ctx.status = malformed ? 400 : 404;
      ctx.body = malformed
        ? { error: 'invalid_path', message: `the request path ${problem}` }
        : { error: 'not_found', message: `no such endpoint: the path ${problem}` };
      return;
    }
    await next();
  };
}
