/**
 * Which app this page is (issue #34): the owner's UI (served on the admin listener, loopback, and
 * in the desktop app) or a member's (served at `/app/` on the federation listener, the address
 * friends already reach). A member's page talks to the client API with its session cookie and
 * shows only the chat; the owner's stays as it was. Pure functions: lib/mode.test.ts.
 */
import { ADMIN_API_PREFIX, ADMIN_SESSION_PATH, ADMIN_STREAM_PATH } from '../../../shared/contract/admin-operations.ts';

export type AppMode = 'owner' | 'member';

/** The member app's path on the federation listener. */
export const MEMBER_APP_PATH = '/app/';
/** The members' API on the federation listener (same origin as the app, issue #34 item 2). */
export const CLIENT_API_PREFIX = '/_paracord/client/v1';

/** Whether the node offers members a live stream (issue #34: the server side says which it built). */
export const MEMBER_STREAM = true;

export function modeFor(pathname: string): AppMode {
  return pathname === '/app' || pathname.startsWith(MEMBER_APP_PATH) ? 'member' : 'owner';
}

/** How this page reaches its API: the prefix of every operation, the live stream, whether it sends its cookie. */
export interface ApiSettings {
  prefix: string;
  /** The live stream's path; null where the node offers none (the page then polls: live.svelte.ts). */
  streamPath: string | null;
  /** The owner's browser asks this (answered without credentials); a member's asks `GET /me`. */
  sessionPath: string;
  credentials: RequestInit['credentials'] | undefined;
}

export function apiSettings(mode: AppMode): ApiSettings {
  if (mode === 'member') {
    // The member session is a cookie (HttpOnly, SameSite=Strict): never a bearer token in the page.
    // The members' stream (the admin stream's equivalent, carrying only their rooms' events) is
    // tried; without it the page polls (MEMBER_STREAM false stops even the attempts).
    return { prefix: CLIENT_API_PREFIX, streamPath: MEMBER_STREAM ? `${CLIENT_API_PREFIX}/stream` : null, sessionPath: `${CLIENT_API_PREFIX}/me`, credentials: 'same-origin' };
  }
  return { prefix: ADMIN_API_PREFIX, streamPath: ADMIN_STREAM_PATH, sessionPath: ADMIN_SESSION_PATH, credentials: undefined };
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname) || hostname.toLowerCase().endsWith('.localhost');
}

/**
 * Whether the sign-in page must say the connection is not private: plain HTTP to another machine
 * (the node's `--insecure-http`, for testing on a LAN). On the same machine nothing crosses a network.
 */
export function connectionNotPrivate(where: { protocol: string; hostname: string }): boolean {
  return where.protocol === 'http:' && !isLoopbackHost(where.hostname);
}

/**
 * Whether the member app registers its service worker (the installable app shell): only a member's
 * page, and only where browsers allow one (a secure context, which loopback is too).
 */
export function mayRegisterServiceWorker(mode: AppMode, where: { isSecureContext: boolean; hostname: string; hasServiceWorker: boolean }): boolean {
  return mode === 'member' && where.hasServiceWorker && (where.isSecureContext || isLoopbackHost(where.hostname));
}
