/**
 * Passkeys in the member app (issue #34): the browser's side of WebAuthn with
 * @simplewebauthn/browser, between the node's options and its check (member-api.ts). Offered only
 * where the browser can: a secure context (HTTPS, or localhost) with WebAuthn.
 */
import { WebAuthnError, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { MemberAccount } from './member-api.ts';

type PasskeyScope = { isSecureContext?: boolean; PublicKeyCredential?: unknown; location?: { hostname: string } };

/**
 * Whether this page may use passkeys at all: WebAuthn in a secure context, at a name (a passkey
 * belongs to a host name; http://127.0.0.1 is a secure context, but an IP address cannot have one).
 */
export function passkeysAvailable(scope: PasskeyScope = globalThis): boolean {
  return passkeysUnavailableWhy(scope) === '';
}

/**
 * Why this page cannot use passkeys, in words ('' when it can): the true reason, not always "https"
 * (a tester's trial: at http://127.0.0.1, a secure context, the page said it needed an https:// address).
 */
export function passkeysUnavailableWhy(scope: PasskeyScope = globalThis): string {
  const host = scope.location?.hostname ?? '';
  // An IP address is never a passkey's home, even over https: said first. Then the connection:
  // browsers offer WebAuthn only on secure pages, so its absence there means only that the page is
  // not secure (a review: an http:// page read "this browser does not offer them").
  if (host === '' || /^[\d.]+$/.test(host) || host.includes(':')) return `they need the server to be opened by its name, not an IP address like ${host || 'this one'}.`;
  if (scope.isSecureContext !== true) return 'browsers allow them only over a private connection (an https:// address).';
  if (typeof scope.PublicKeyCredential !== 'function') return 'this browser does not offer them.';
  return '';
}

/** The member made a passkey on this device (or a security key), its passphrase confirming it; the node keeps its public key. */
export async function addPasskey(account: MemberAccount, name: string, passphrase: string, asking: () => void = () => {}) {
  const optionsJSON = await account.passkeyRegisterOptions(passphrase);
  asking(); // the passphrase was right: the device asks now
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
