/**
 * A member's own API besides the chat operations (issue #34): joining by link, signing in and
 * out, and their account. Served on the federation listener under `/_paracord/client/v1`, with the
 * session cookie (never a token in the page). The chat operations go through the contract client
 * (api.ts) with the same prefix. `memberAccount(fetch)` is tested with a fake fetch (member-api.test.ts).
 */
import { AdminError, errorDetails } from '../../../shared/contract/client.ts';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/browser';
import type { PasskeyView } from '../../../shared/contract/admin/members.ts';
import { CLIENT_API_PREFIX } from './mode.ts';

export interface LinkInfo {
  purpose: 'join' | 'reset';
  user_id: string | null;
  server_name: string;
}

export interface Me {
  user_id: string;
  display_name: string | null;
  server_name: string;
  may_create_rooms: boolean;
  /** Whether the node served this session over HTTPS. */
  secure: boolean;
}

export interface MemberSessionView {
  id: string;
  created_at: number;
  last_seen_at: number;
  user_agent: string | null;
  current: boolean;
}

export type { PasskeyView };
export type MemberAccount = ReturnType<typeof memberAccount>;

/** The refusals that say this page's session is over (not a wrong passphrase, which is 401 too). */
export const SESSION_OVER = new Set(['not_signed_in', 'session_ended']);

/** `refused`: told every refusal before it is thrown (api.ts signs the page out on SESSION_OVER). */
export function memberAccount(doFetch: typeof fetch, refused: (error: AdminError) => void = () => {}) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, credentials: 'same-origin', cache: 'no-store', headers: { 'x-paracord-request': '1' } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await doFetch(`${CLIENT_API_PREFIX}${path}`, init);
    const answer = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
    if (!response.ok) {
      const error = new AdminError(response.status, typeof answer.error === 'string' ? answer.error : 'error', typeof answer.message === 'string' ? answer.message : `HTTP ${response.status}`, errorDetails(answer));
      refused(error);
      throw error;
    }
    return answer as T;
  }
  return {
    link: (token: string) => call<LinkInfo>('POST', '/links/look-up', { token }),
    join: (token: string, localpart: string, passphrase: string) => call<{ user_id: string }>('POST', '/join', { token, localpart, passphrase }),
    reset: (token: string, passphrase: string) => call<{ user_id: string }>('POST', '/reset', { token, passphrase }),
    signIn: (localpart: string, passphrase: string) => call<{ user_id: string }>('POST', '/sign-in', { localpart, passphrase }),
    signOut: () => call<Record<string, never>>('POST', '/sign-out', {}),
    me: () => call<Me>('GET', '/me'),
    setDisplayName: (display_name: string) => call<Me>('PUT', '/me', { display_name }),
    changePassphrase: (current: string, next: string) => call<Record<string, never>>('POST', '/me/passphrase', { current, next }),
    sessions: () => call<{ sessions: MemberSessionView[] }>('GET', '/me/sessions'),
    endSession: (id: string) => call<Record<string, never>>('DELETE', `/me/sessions/${encodeURIComponent(id)}`),
    // Passkeys (passkeys.ts runs the browser's side): options from the node, the browser's answer back.
    passkeys: () => call<{ passkeys: PasskeyView[] }>('GET', '/me/passkeys'),
    removePasskey: (id: string) => call<Record<string, never>>('DELETE', `/me/passkeys/${encodeURIComponent(id)}`),
    passkeyRegisterOptions: (passphrase: string) => call<PublicKeyCredentialCreationOptionsJSON>('POST', '/passkeys/register-options', { passphrase }),
    registerPasskey: (response: RegistrationResponseJSON, name: string) => call<PasskeyView>('POST', '/passkeys/register', { response, ...(name ? { name } : {}) }),
    passkeySignInOptions: () => call<{ attempt: string; options: PublicKeyCredentialRequestOptionsJSON }>('POST', '/passkeys/sign-in-options', {}),
    passkeySignIn: (attempt: string, response: AuthenticationResponseJSON) => call<{ user_id: string }>('POST', '/passkeys/sign-in', { attempt, response }),
  };
}

/** What a member types as their user name: "@Alice:home.example" or "alice" alike give "alice". */
export function localpartOf(typed: string): string {
  const trimmed = typed.trim().toLowerCase();
  const match = /^@?([^:]+)(?::.*)?$/.exec(trimmed);
  return match ? match[1]! : trimmed;
}

export const PASSPHRASE_MIN_CHARS = 10;

/** A member's user name as the node takes it (main/core/members/: 1–32 of a-z 0-9 . _ -, a letter or digit first). */
export const MEMBER_NAME = /^[a-z0-9][a-z0-9._-]{0,31}$/;
