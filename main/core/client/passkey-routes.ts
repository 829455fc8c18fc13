/**
 * Passkeys on the client API (issue #34; main/core/members/passkeys.ts does the WebAuthn part):
 *   POST   /passkeys/register-options  (signed in)  {passphrase} -> PublicKeyCredentialCreationOptionsJSON
 *   POST   /passkeys/register          (signed in)  {response, name?} -> the passkey
 *   GET    /me/passkeys                             -> {passkeys}
 *   DELETE /me/passkeys/:id                         -> {}
 *   POST   /passkeys/sign-in-options   (anyone)     -> {attempt, options}
 *   POST   /passkeys/sign-in           (anyone)     {attempt, response} -> {user_id} + the session cookie
 * The relying party is the host the page was served for, and the origin the page's own: passkeys
 * need a secure context, so a plain-HTTP page that is not on localhost, or an address that is an
 * IP (WebAuthn takes names only), gets 400 passkeys_unavailable in words.
 */
import { isIP } from 'node:net';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { AuthenticationResponseJSON, AuthenticatorTransport, RegistrationResponseJSON } from '@simplewebauthn/server';
import type Router from '../http/router.ts';
import { HttpError, badRequest } from '../errors.ts';
import type { TrustedProxies } from '../http/client-address.ts';
import { warnLimited } from '../log/rate-limit.ts';
import type { PasskeySite } from '../members/passkeys.ts';
import type { MemberDevice, MemberStore, SignedIn } from '../members/member-store.ts';
import { isSafeDisplayName } from '../../../shared/identifiers.ts';
import { isSecure, requestHost, signedIn } from './member-http.ts';
import type { Logger } from 'pino';

const b64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
const credentialId = b64url(1400).min(1);
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const credential = {
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};
/** Browsers add fields (z.object drops them); what the check needs is named, with bounds. */
const schemas = {
  none: z.strictObject({}),
  // A path's id checked as every other input is (a review, 2026-12-01: it went to SQL as it came).
  passkey: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,1400}$/, 'must be a passkey id (base64url)') }),
  /** Adding a passkey asks for the passphrase: a stolen session must not leave a way back in that outlives it. */
  registerOptions: z.strictObject({ passphrase: z.string().min(1).max(1024) }),
  register: z.strictObject({
    name: z.string().trim().max(60).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters').optional(),
    response: z.object({
      ...credential,
      response: z.object({
        clientDataJSON: b64url(8192),
        attestationObject: b64url(32_768),
        // Kept only when known: a browser may name transports newer than this list.
        transports: z.array(z.string().max(32)).max(10).optional().transform((t) => t?.filter((x) => TRANSPORTS.has(x)) as AuthenticatorTransport[] | undefined),
      }),
    }),
  }),
  signIn: z.strictObject({
    attempt: z.string().min(1).max(64),
    response: z.object({
      ...credential,
      response: z.object({ clientDataJSON: b64url(8192), authenticatorData: b64url(8192), signature: b64url(8192), userHandle: b64url(256).optional() }),
    }),
  }),
};

export interface PasskeyRouteDeps {
  log: Logger;
  members: MemberStore;
  trustedProxies: TrustedProxies;
  input: <T extends z.ZodType>(ctx: Context, schema: T) => Promise<z.output<T>>;
  /** The anonymous requests' rate limits (sign-in options and sign-in). */
  anonymous: Middleware;
  /** The device a session is for, and the client's address the sign-in limits count. */
  device: (ctx: Context) => MemberDevice & { address: string };
  signedInAs: (ctx: Context, session: SignedIn) => void;
}

/** The relying party and origin of the page that asks, or 400 passkeys_unavailable. */
export function passkeySite(ctx: Context, proxies: TrustedProxies): PasskeySite {
  const host = requestHost(ctx);
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    throw badRequest('passkeys_unavailable', 'passkeys are not available at this address');
  }
  const secure = isSecure(ctx, proxies);
  if (isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) throw badRequest('passkeys_unavailable', `passkeys need the server's name in the address, not an IP address (${hostname})`);
  const local = hostname === 'localhost' || hostname.endsWith('.localhost');
  if (!secure && !local) throw badRequest('passkeys_unavailable', 'passkeys need a private connection (an https:// address); this page is plain HTTP');
  return { rpId: hostname, origin: `${secure ? 'https' : 'http'}://${host}` };
}

export function passkeyRoutes(router: Router, deps: PasskeyRouteDeps): void {
  const { members, trustedProxies, input, log } = deps;
  const site = (ctx: Context) => passkeySite(ctx, trustedProxies);

  router.post('/passkeys/register-options', async (ctx) => {
    const { user_id, session_id } = signedIn(ctx);
    const body = await input(ctx, schemas.registerOptions);
    // Before the passphrase's check: a page that cannot make passkeys, or a member with its
    // most, costs no hashing.
    const where = site(ctx);
    members.passkeys.checkRoomForOne(user_id);
    try {
      await members.confirmPassphrase(user_id, body.passphrase, deps.device(ctx));
    } catch (error) {
      // Guesses through a session (a stolen one) are told to the owner as sign-in failures are.
      if (error instanceof HttpError && (error.code === 'wrong_passphrase' || error.code === 'too_many_attempts')) {
        warnLimited(log, 'member_passphrase_confirm_failed', { event: 'member_passphrase_confirm_failed', user_id, address: ctx.ip, limited: error.status === 429 }, 'a member\'s passphrase was not confirmed before adding a passkey');
      }
      throw error;
    }
    const name = members.list().find((m) => m.user_id === user_id)?.display_name ?? null;
    ctx.body = await members.passkeys.registrationOptions(user_id, session_id, name, where);
  });
  router.post('/passkeys/register', async (ctx) => {
    const { user_id, session_id } = signedIn(ctx);
    const body = await input(ctx, schemas.register);
    const passkey = await members.passkeys.register(user_id, session_id, body.response as RegistrationResponseJSON, body.name || null, site(ctx));
    log.info({ event: 'member_passkey_added', user_id }, 'a member added a passkey');
    ctx.body = passkey;
  });
  router.get('/me/passkeys', async (ctx) => {
    ctx.body = { passkeys: members.passkeys.list(signedIn(ctx).user_id) };
  });
  router.delete('/me/passkeys/:id', async (ctx) => {
    const { user_id } = signedIn(ctx);
    const { id } = await input(ctx, schemas.passkey);
    members.passkeys.remove(user_id, id);
    log.info({ event: 'member_passkey_removed', user_id }, 'a member removed a passkey');
    ctx.body = {};
  });
  router.post('/passkeys/sign-in-options', deps.anonymous, async (ctx) => {
    await input(ctx, schemas.none);
    ctx.body = await members.passkeys.signInOptions(site(ctx));
  });
  router.post('/passkeys/sign-in', deps.anonymous, async (ctx) => {
    const body = await input(ctx, schemas.signIn);
    const where = site(ctx);
    try {
      deps.signedInAs(ctx, await members.passkeys.signIn(body.attempt, body.response as AuthenticationResponseJSON, where, deps.device(ctx)));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      warnLimited(log, 'member_sign_in_failed', { event: 'member_sign_in_failed', passkey: true, address: ctx.ip, limited: error.status === 429 }, 'a member sign-in failed');
      // The same answer as a wrong passphrase.
      if (error.code === 'sign_in_failed') throw new HttpError(401, 'bad_credentials', error.message);
      throw error;
    }
  });
}
