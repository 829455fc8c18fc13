/**
 * Passkeys in the member app (issue #34): the browser's side of WebAuthn with
 * @simplewebauthn/browser, between the node's options and its check (member-api.ts). Offered only
 * where the browser can: a secure context (HTTPS, or localhost) with WebAuthn.
 */
import { WebAuthnError, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { MemberAccount } from './member-api.ts';

/**
 * Whether this page may use passkeys at all: WebAuthn in a secure context, at a name (a passkey
 * belongs to a host name; http://127.0.0.1 is a secure context, but an IP address cannot have one).
 */
export function passkeysAvailable(scope: { isSecureContext?: boolean; PublicKeyCredential?: unknown; location?: { hostname: string } } = globalThis): boolean {
  const host = scope.location?.hostname ?? '';
  const isAddress = /^[\d.]+$/.test(host) || host.includes(':');
  return scope.isSecureContext === true && typeof scope.PublicKeyCredential === 'function' && host !== '' && !isAddress;
}

/** The member made a passkey on this device (or a security key); the node keeps its public key. */
export async function addPasskey(account: MemberAccount, name: string) {
  const optionsJSON = await account.passkeyRegisterOptions();
  return account.registerPasskey(await startRegistration({ optionsJSON }), name);
}

/** Signs in with a passkey the browser offers (the node learns whose it is from the passkey). */
export async function signInWithPasskey(account: MemberAccount): Promise<{ user_id: string }> {
  const { attempt, options } = await account.passkeySignInOptions();
  return account.passkeySignIn(attempt, await startAuthentication({ optionsJSON: options }));
}

/** The member closed the browser's prompt (or it timed out): not an error worth words. */
export function wasCancelled(error: unknown): boolean {
  return (error instanceof WebAuthnError && error.code === 'ERROR_CEREMONY_ABORTED') || (error instanceof Error && error.name === 'NotAllowedError');
}
