/**
 * The HTTP guards of the members' API (issue #34, docs/SECURITY.md "Members"): whether the
 * connection is private (HTTPS, or HTTPS at a trusted reverse proxy), the session cookie
 * (HttpOnly, SameSite=Strict, Secure over HTTPS, bound to the Host it was issued for), and the
 * cross-site check every state-changing request passes (Fetch Metadata, else Origin).
 */
import type { Context, Middleware } from 'koa';
import type { TLSSocket } from 'node:tls';
import { forbidden, unauthorized } from '../errors.ts';
import type { TrustedProxies } from '../http/client-address.ts';
import type { MemberStore } from '../members/member-store.ts';
import { DEVICE_LIFETIME_MS, SESSION_LIFETIME_MS } from '../members/member-store.ts';

/**
 * The member's session. Over HTTPS it is `__Host-paracord_member`, as the device cookie below is:
 * a cookie of that name is Secure, for this host only and for every path, so a sibling subdomain
 * or a plain-HTTP page cannot plant one that shadows it (signing the member in as someone else).
 */
export const MEMBER_COOKIE = 'paracord_member';
/**
 * A device the member signed in from (members/member-store.ts rememberDevice): its sign-in attempts
 * count against it, not the account. Over HTTPS `__Host-paracord_device` (a planted one would put
 * the member back under the account's count).
 */
export const DEVICE_COOKIE = 'paracord_device';
/** A cookie's name on this connection: `__Host-` prefixed over HTTPS (ours, or a trusted proxy's). */
const cookieName = (name: string, secure: boolean) => (secure ? `__Host-${name}` : name);

/** The session token the client presents (its session cookie under this connection's name). */
export function sessionToken(ctx: Context, proxies: TrustedProxies): string | undefined {
  return ctx.cookies.get(cookieName(MEMBER_COOKIE, isSecure(ctx, proxies)));
}
/** A device token as the node makes them (32 random bytes, base64url); any other cookie value is ignored. */
const DEVICE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The member a request is signed in as (set by memberSession). */
export interface SignedInMember {
  user_id: string;
  session_id: string;
}

/** Over HTTPS: our own TLS, or a trusted reverse proxy that says the client spoke HTTPS to it. */
export function isSecure(ctx: Context, proxies: TrustedProxies): boolean {
  if ((ctx.req.socket as Partial<TLSSocket>).encrypted === true) return true;
  const remote = ctx.req.socket.remoteAddress ?? '';
  const proto = String(ctx.get('x-forwarded-proto')).split(',').at(-1)?.trim().toLowerCase();
  return proxies.isTrusted(remote) && proto === 'https';
}

/** The Host a session is bound to: the request's Host header, lowercased. */
export function requestHost(ctx: Context): string {
  return ctx.get('host').toLowerCase();
}

/**
 * Refuses a request a page of another site made: `Sec-Fetch-Site: same-origin` when the browser
 * sends Fetch Metadata, otherwise an Origin equal to this request's own origin (scheme, host and
 * port). Neither: 403 cross_site (a client that is not a browser sends Origin).
 */
export function requireSameOrigin(ctx: Context, proxies: TrustedProxies): void {
  const site = ctx.get('sec-fetch-site');
  const origin = ctx.get('origin');
  const own = `${isSecure(ctx, proxies) ? 'https' : 'http'}://${requestHost(ctx)}`;
  const sameOrigin = site ? site === 'same-origin' : origin !== '' && origin.toLowerCase() === own;
  if (!sameOrigin) throw forbidden('cross_site', 'this request did not come from this server\'s own page; refused');
}

/**
 * Every state-changing request (anything but GET and HEAD) passes requireSameOrigin; so does the
 * opening of the members' stream (a GET whose frames change things: client-app.ts).
 */
export function crossSiteCheck(proxies: TrustedProxies): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') requireSameOrigin(ctx, proxies);
    await next();
  };
}

/** Reads the session cookie: `ctx.state.member` when it names a live session of an enabled member on this Host. */
export function memberSession(members: MemberStore, proxies: TrustedProxies): Middleware {
  return async (ctx, next) => {
    const token = sessionToken(ctx, proxies);
    const found = token ? members.session(token, requestHost(ctx)) : null;
    if (found) ctx.state.member = { user_id: found.user_id, session_id: found.session_id } satisfies SignedInMember;
    // A use written (once a minute): the device that opened the session stays known, its cookie renewed.
    const device = found?.seen ? presentedDevice(ctx, proxies) : undefined;
    if (found && device !== undefined && members.refreshDevice(found.user_id, found.session_id, device)) setDeviceCookie(ctx, proxies, device);
    await next();
  };
}

/** The signed-in member, or 401 not_signed_in. */
export function signedIn(ctx: Context): SignedInMember {
  const member = ctx.state.member as SignedInMember | undefined;
  if (!member) throw unauthorized('not_signed_in', 'you are not signed in (or your session ended): sign in again');
  return member;
}

/**
 * Sets one of the member cookies: HttpOnly, SameSite=Strict, for every path, Secure and `__Host-`
 * named over HTTPS (ours, or a trusted proxy's); `maxAge` 0 removes it.
 */
function setMemberCookie(ctx: Context, proxies: TrustedProxies, name: string, value: string, maxAge: number): void {
  const secure = isSecure(ctx, proxies);
  // Behind a trusted proxy that terminates TLS the socket is plain HTTP: tell the cookie library it is not.
  if (secure) (ctx.cookies as unknown as { secure: boolean }).secure = true;
  ctx.cookies.set(cookieName(name, secure), value, { httpOnly: true, sameSite: 'strict', path: '/', secure, overwrite: true, maxAge });
}

export function setSessionCookie(ctx: Context, proxies: TrustedProxies, token: string): void {
  setMemberCookie(ctx, proxies, MEMBER_COOKIE, token, SESSION_LIFETIME_MS);
}

/** The device token the client presents (its device cookie), when it is one the node could have made. */
export function presentedDevice(ctx: Context, proxies: TrustedProxies): string | undefined {
  const token = ctx.cookies.get(cookieName(DEVICE_COOKIE, isSecure(ctx, proxies)));
  return token !== undefined && DEVICE_TOKEN.test(token) ? token : undefined;
}

/** Remembers the device on the client: kept across sign-outs and sessions. */
export function setDeviceCookie(ctx: Context, proxies: TrustedProxies, token: string): void {
  setMemberCookie(ctx, proxies, DEVICE_COOKIE, token, DEVICE_LIFETIME_MS);
}

export function clearSessionCookie(ctx: Context, proxies: TrustedProxies): void {
  setMemberCookie(ctx, proxies, MEMBER_COOKIE, '', 0);
}
