import { ADMIN_STREAM_NOTIFICATIONS, type AdminOperationName } from '../../../shared/contract/admin-operations.ts';
import { createAdminClient, errorDetails, httpTransport, AdminError, type AdminTransport } from '../../../shared/contract/client.ts';
import { ConnectionLost, streamTransport, type StreamTransport } from '../../../shared/contract/stream-transport.ts';
import { wording } from './errors.ts';
import { apiSettings, modeFor } from './mode.ts';
import { SESSION_OVER, memberAccount, type Me } from './member-api.ts';

/**
 * The owner's UI, or a member's (served at /app/ on the federation listener, issue #34): a
 * member's page calls the client API with its session cookie (lib/mode.ts).
 */
export const mode = modeFor(location.pathname);
const settings = apiSettings(mode);
wording.member = mode === 'member';

type IpcResult = { ok: true; value: unknown } | { ok: false; status: number; error: string; message: string; [field: string]: unknown };
interface DesktopBridge {
  invoke(name: string, input: unknown): Promise<IpcResult>;
  onNotification(listener: (notification: { type: string; [key: string]: unknown }) => void): () => void;
}

/** In the desktop app the preload script provides this bridge; in a browser it is absent. */
export const desktop = mode === 'owner' ? (window as unknown as { paracord?: DesktopBridge }).paracord : undefined;

const ipcTransport = <N extends string = AdminOperationName>(bridge: DesktopBridge) => async (name: N, input: unknown): Promise<unknown> => {
  const result = await bridge.invoke(name, input);
  if (!result.ok) throw new AdminError(result.status, result.error, result.message, errorDetails(result));
  return result.value;
};

/**
 * Told whether each call reached the node (live.svelte.ts keeps the "node not reachable" state),
 * and when the session ended (live.svelte.ts stops waiting for notifications).
 */
export const reachability = { ok: () => {}, failed: () => {}, signedOut: () => {} };

/**
 * Whether this window has a session (issue #37 item 16): until `checkSession` said so, and from
 * the first 401 on, no call leaves the page (nor the admin stream a call opens). A call then
 * fails here, as the node would have answered it. The desktop app needs no sign-in.
 */
export const access = { signedIn: desktop !== undefined };

function signedOut(): void {
  if (!access.signedIn) return;
  access.signedIn = false;
  stream?.close();
  stream = undefined;
  reachability.signedOut();
}

export type SessionState = 'valid' | 'ended' | 'none';

/**
 * Asks the node whether this browser is signed in (it answers 200 either way, without credentials);
 * throws when the node does not answer. Only 'valid' lets calls go out.
 */
export async function checkSession(): Promise<SessionState> {
  if (desktop) return 'valid';
  if (mode === 'member') return (await checkMember()) ? 'valid' : 'none';
  const response = await fetch(settings.sessionPath, { cache: 'no-store' });
  const body = (await response.json().catch(() => ({}))) as { session?: unknown; error?: unknown; message?: unknown };
  if (!response.ok) throw new AdminError(response.status, String(body.error ?? 'error'), String(body.message ?? `HTTP ${response.status}`));
  const state: SessionState = body.session === 'valid' || body.session === 'ended' ? body.session : 'none';
  if (state === 'valid') access.signedIn = true;
  else signedOut();
  return state;
}

/**
 * A member's own API: sign-in, joining by link, the account (member-api.ts). A refusal saying the
 * session is over signs the page out at once, as a chat call's does (it waited for the stream to
 * notice: the Account page showed "signed out" under a form and stayed).
 */
const accountCalls = memberAccount((...args) => fetch(...args), (error) => {
  if (error.status === 401 && SESSION_OVER.has(error.code)) signedOut();
});
export const account: typeof accountCalls = {
  ...accountCalls,
  // A new passphrase ends every session and gives this device a new cookie: the stream, opened
  // with the old one, would be refused at its next call and sign this page out (a review of
  // 2026-11-30); closed, the next call or the probe opens one with the new cookie.
  changePassphrase: async (current, next) => {
    const answer = await accountCalls.changePassphrase(current, next);
    stream?.close();
    stream = undefined;
    return answer;
  },
};

/** The signed-in member, as `GET /me` said (member mode only). */
export const member = { me: null as Me | null };

/** A member's page: whether its cookie is a session (`GET /me`); null when it is not. Throws when the node does not answer. */
export async function checkMember(): Promise<Me | null> {
  try {
    const me = await account.me();
    member.me = me;
    access.signedIn = true;
    return me;
  } catch (error) {
    if (error instanceof AdminError && error.status === 401) {
      signedOut();
      return null;
    }
    throw error;
  }
}

const watched = <N extends string>(transport: (name: N, input: Record<string, unknown>) => Promise<unknown>) => async (name: N, input: Record<string, unknown>): Promise<unknown> => {
  if (!access.signedIn) throw new AdminError(401, 'not_signed_in', 'this page is not signed in: open a login link (run `paracord-node login`)');
  try {
    const value = await transport(name, input);
    reachability.ok();
    return value;
  } catch (error) {
    if (error instanceof AdminError) {
      reachability.ok();
      // The session ended (signed out elsewhere, expired): nothing more is tried until a new sign-in.
      if (error.status === 401) signedOut();
    }
    // The stream closed under the call: that alone says nothing of the node (the next call will).
    else if (!(error instanceof ConnectionLost)) reachability.failed();
    throw error;
  }
};

/** What the admin stream brings besides answers (live.svelte.ts sets these): the node's notifications, and when they flow. */
export const streamEvents = {
  notification: (_notification: { type: string; [key: string]: unknown }) => {},
  open: () => {},
  close: () => {},
};

/**
 * In a browser: the admin stream (one WebSocket for every call, issue #17), with HTTP whenever the
 * stream is not open (shared/contract/stream-transport.ts). It also carries the node's
 * notifications (its subprotocol `paracord.notifications`): the page's live updates come over it (issue #35 item 3). A
 * sign-out closes it; the next call after a new sign-in opens a new one.
 */
let stream: StreamTransport | undefined;
const http = () => httpTransport({ prefix: settings.prefix, credentials: settings.credentials });
function browserStream(): StreamTransport {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${settings.streamPath}`;
  return (stream ??= streamTransport({
    url,
    protocols: [ADMIN_STREAM_NOTIFICATIONS],
    fallback: http(),
    onNotification: (notification) => streamEvents.notification(notification),
    onOpen: () => streamEvents.open(),
    onClose: () => streamEvents.close(),
  }));
}
function browserTransport(): AdminTransport {
  if (typeof WebSocket === 'undefined' || !settings.streamPath) return http();
  return (name, input) => browserStream().call(name, input);
}

/** Opens the admin stream now (for its notifications) unless it is open; false where there is none (no WebSocket, signed out). */
export function openStream(): boolean {
  if (desktop || typeof WebSocket === 'undefined' || !settings.streamPath || !access.signedIn) return false;
  browserStream().connect();
  return true;
}

/** The admin API, through whichever transport this window has: IPC in the desktop app, the stream or HTTP in a browser. */
export const api = createAdminClient(watched(desktop ? ipcTransport(desktop) : browserTransport()));


export { AdminError };
