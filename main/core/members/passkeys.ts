/**
 * Members' passkeys (WebAuthn, issue #34; docs/SECURITY.md "Members"), with @simplewebauthn/server:
 *  - a signed-in member registers a passkey for the host the page was served from (the relying
 *    party id), checked against that page's origin; lists and removes its own;
 *  - anyone may then sign in with a passkey instead of a user name and passphrase (a discoverable
 *    credential: the authenticator says whose it is);
 *  - every challenge is random, single-use and short-lived, and bound to what asked for it: the
 *    session (registering) or the sign-in attempt (signing in), and to the host;
 *  - a passkey sign-in goes through the same per-account and per-address limits as a passphrase,
 *    and every failure (unknown credential, wrong origin, a challenge used before, a bad signature,
 *    a disabled member) is the same answer, 401 sign_in_failed.
 * The HTTP side (which host, which origin, secure or not) is main/core/client/account-routes.ts.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Db } from '../store/database.ts';
import type { PasskeyView } from '../../../shared/contract/admin/members.ts';
import { HttpError, badRequest, conflict, notFound } from '../errors.ts';
import type { MemberDevice, MemberStore, SignedIn } from './member-store.ts';

/**
 * @simplewebauthn/server is loaded at the first passkey request, not with the node: it adds ~26 MB
 * of RSS to a process, which every node would carry idle for a feature most never use (issue #36
 * goal 5).
 */
let webauthnModule: Promise<typeof import('@simplewebauthn/server')> | null = null;
const webauthn = () => (webauthnModule ??= import('@simplewebauthn/server'));

/** How long a challenge may be answered (the browser's prompt gets the same time). */
export const PASSKEY_CHALLENGE_MS = 120_000;
/** Passkeys one member may have (one per device or security key is plenty). */
export const MAX_PASSKEYS_PER_MEMBER = 20;
/** A credential id is at most 1,023 bytes (WebAuthn): 1,364 base64url characters. */
const MAX_CREDENTIAL_ID_CHARS = 1_364;
/**
 * A COSE public key: ~77 bytes for EC2/OKP, ~530 for RSA 4096, 1,322 for ML-DSA-44 (offered first
 * where the runtime has it, Node.js 24, and made by Chromium 156: a 1 KiB cap refused every passkey
 * such a browser made), 2,592 bytes of key for ML-DSA-87, the largest kind: 4 KiB is room enough.
 */
const MAX_PUBLIC_KEY_BYTES = 4_096;

/** Where the page that asks is: the relying party id (the host name, no port) and the page's origin. */
export interface PasskeySite {
  rpId: string;
  origin: string;
}

interface PasskeyRow { id: string; user_id: string; rp_id: string; public_key: Buffer; counter: number; transports: string | null; name: string | null; created_at: number; last_used_at: number | null }
interface Challenge { challenge: string; site: PasskeySite; sessionId?: string }

const FAILED = 'that passkey does not sign in a member of this server';
const failed = () => new HttpError(401, 'sign_in_failed', FAILED);

export class MemberPasskeys {
  private readonly db: Db;
  private readonly members: MemberStore;
  private readonly serverName: () => string;
  /** Outstanding challenges by what they are bound to: `register <session id>` or `sign-in <attempt id>`. Bounded: anyone may ask for sign-in ones. */
  private readonly challenges = new LRUCache<string, Challenge>({ max: 10_000, ttl: PASSKEY_CHALLENGE_MS, ttlAutopurge: false });

  constructor(db: Db, members: MemberStore, serverName: () => string) {
    this.db = db;
    this.members = members;
    this.serverName = serverName;
  }

  /** A challenge taken once: a second answer with it (a replay) finds nothing. */
  private take(key: string, site: PasskeySite): Challenge | null {
    const found = this.challenges.get(key);
    this.challenges.delete(key);
    return found && found.site.rpId === site.rpId && found.site.origin === site.origin ? found : null;
  }

  // ——— registering (signed in) ———

  async registrationOptions(userId: string, sessionId: string, displayName: string | null, site: PasskeySite): Promise<PublicKeyCredentialCreationOptionsJSON> {
    this.checkRoomForOne(userId);
    const own = this.rows(userId).filter((r) => r.rp_id === site.rpId);
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: this.serverName() || site.rpId,
      rpID: site.rpId,
      userName: userId,
      userID: this.userHandle(userId),
      userDisplayName: displayName ?? userId.slice(1).split(':')[0]!,
      timeout: PASSKEY_CHALLENGE_MS / 2,
      attestationType: 'none',
      excludeCredentials: own.map((r) => ({ id: r.id, ...(r.transports ? { transports: JSON.parse(r.transports) as AuthenticatorTransport[] } : {}) })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    this.challenges.set(`register ${sessionId}`, { challenge: options.challenge, site, sessionId });
    return options;
  }

  /** Checks the browser's answer to registrationOptions (same session, same host and origin) and keeps the passkey. */
  async register(userId: string, sessionId: string, response: RegistrationResponseJSON, name: string | null, site: PasskeySite, now = Date.now()): Promise<PasskeyView> {
    const challenge = this.take(`register ${sessionId}`, site);
    if (!challenge) throw badRequest('passkey_not_accepted', 'this passkey request expired or was already answered; try again');
    let verified;
    try {
      verified = await (await webauthn()).verifyRegistrationResponse({ response, expectedChallenge: challenge.challenge, expectedOrigin: site.origin, expectedRPID: site.rpId, requireUserVerification: true });
    } catch (error) {
      throw badRequest('passkey_not_accepted', `this passkey could not be checked: ${(error as Error).message}`);
    }
    if (!verified.verified) throw badRequest('passkey_not_accepted', 'this passkey could not be checked');
    const { credential } = verified.registrationInfo;
    // The id and key kept are the authenticator's, which the schema at the edge does not see: the
    // id must be the one the browser named (WebAuthn: at most 1,023 bytes), the key a real one's size.
    if (credential.id !== response.rawId || credential.id.length > MAX_CREDENTIAL_ID_CHARS || credential.publicKey.byteLength > MAX_PUBLIC_KEY_BYTES) {
      throw badRequest('passkey_not_accepted', 'this passkey\'s id or key is not one a browser makes');
    }
    const added = this.db.transaction(() => {
      // The session that asked is still there (a reset link used, a new passphrase or the owner
      // disabling the member while the answer was checked ended it: nothing is added for it).
      if (!this.members.isLive(sessionId, now)) throw new HttpError(401, 'session_ended', 'this session ended while the passkey was checked; sign in again');
      // Counted again now, over every site (the count at the options was per request: several at once, or one per host name, went past it).
      this.checkRoomForOne(userId);
      return this.db
        .prepare('INSERT OR IGNORE INTO member_passkeys (id, user_id, rp_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(credential.id, userId, site.rpId, Buffer.from(credential.publicKey), credential.counter, credential.transports ? JSON.stringify(credential.transports) : null, name, now).changes;
    })();
    if (added === 0) throw conflict('passkey_exists', 'this passkey is registered already');
    return this.list(userId).find((p) => p.id === credential.id)!;
  }

  list(userId: string): PasskeyView[] {
    return this.db.prepare<[string], PasskeyView>('SELECT id, name, rp_id, created_at, last_used_at FROM member_passkeys WHERE user_id = ? ORDER BY created_at').all(userId);
  }

  /** At most MAX_PASSKEYS_PER_MEMBER passkeys a member, whatever site (Host) each was made for. */
  checkRoomForOne(userId: string): void {
    const { n } = this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM member_passkeys WHERE user_id = ?').get(userId)!;
    if (n >= MAX_PASSKEYS_PER_MEMBER) throw conflict('too_many_passkeys', `you have ${MAX_PASSKEYS_PER_MEMBER} passkeys already; remove one first`);
  }

  /** Removes one of `userId`'s passkeys (another member's id is "not found"). */
  remove(userId: string, id: string): void {
    if (this.db.prepare('DELETE FROM member_passkeys WHERE id = ? AND user_id = ?').run(id, userId).changes === 0) throw notFound('unknown_passkey', 'no such passkey of yours');
  }

  // ——— signing in (anyone) ———

  /** Options for a sign-in, and the attempt id the answer must come back with. */
  async signInOptions(site: PasskeySite): Promise<{ attempt: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    const options = await (await webauthn()).generateAuthenticationOptions({ rpID: site.rpId, userVerification: 'required', timeout: PASSKEY_CHALLENGE_MS / 2 });
    const attempt = randomBytes(18).toString('base64url');
    this.challenges.set(`sign-in ${attempt}`, { challenge: options.challenge, site });
    return { attempt, options };
  }

  /**
   * Signs in with a passkey's answer to the attempt's challenge. Limited like a passphrase, per
   * address and per credential (its failures counted apart from the member's passphrase guesses:
   * a signature cannot be guessed, so anybody's wrong passphrases for the member must not lock its
   * passkey out, nor forged answers naming its credential its passphrase; red team, 2026-11-29),
   * and every failure is the same 401 sign_in_failed.
   */
  async signIn(attempt: string, response: AuthenticationResponseJSON, site: PasskeySite, device: MemberDevice & { address: string }, now = Date.now()): Promise<SignedIn> {
    const challenge = this.take(`sign-in ${attempt}`, site);
    const row = this.db.prepare<[string], PasskeyRow>('SELECT * FROM member_passkeys WHERE id = ?').get(response.id);
    const account = `passkey ${response.id.slice(0, 64)}`;
    // Counted as a failure before the (slow) check, until it succeeds (sign-in-limiter.ts begin).
    const limited = this.members.limiter.begin(account, device.address, now);
    if (!limited.ok) throw new HttpError(429, 'too_many_attempts', limited.message, { 'retry-after': String(Math.ceil(limited.retryAfterMs / 1000)) });
    if (!challenge || !row || row.rp_id !== site.rpId || !this.members.isEnabled(row.user_id)) throw failed();
    let verified;
    try {
      verified = await (await webauthn()).verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: site.origin,
        expectedRPID: site.rpId,
        requireUserVerification: true,
        credential: { id: row.id, publicKey: new Uint8Array(row.public_key), counter: row.counter, ...(row.transports ? { transports: JSON.parse(row.transports) as AuthenticatorTransport[] } : {}) },
      });
    } catch {
      throw failed();
    }
    // The user handle, when the authenticator sends it, must be this member's.
    const handle = response.response.userHandle;
    if (!verified.verified || (handle && handle !== Buffer.from(this.userHandle(row.user_id)).toString('base64url'))) throw failed();
    // The passkey is still this member's (a reset link used while it was checked removed it): in
    // the transaction that opens the session.
    const session = this.db.transaction(() => {
      if (this.db.prepare('UPDATE member_passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND user_id = ?').run(verified.authenticationInfo.newCounter, now, row.id, row.user_id).changes !== 1) throw failed();
      // Turned off meanwhile: no session, and the passkey does not read "used" (the throw rolls the update back).
      const opened = this.members.openSession(row.user_id, device, now);
      if (!opened) throw failed();
      return opened;
    })();
    this.members.limiter.succeed(account, device.address, now);
    return session;
  }

  /** What registrationOptions needs of the member's passkeys (not their keys). */
  private rows(userId: string): Array<Pick<PasskeyRow, 'id' | 'rp_id' | 'transports'>> {
    return this.db.prepare<[string], Pick<PasskeyRow, 'id' | 'rp_id' | 'transports'>>('SELECT id, rp_id, transports FROM member_passkeys WHERE user_id = ? ORDER BY created_at').all(userId);
  }

  /** The member's WebAuthn user handle: random (nothing personal in it), made on its first passkey. */
  private userHandle(userId: string): Uint8Array<ArrayBuffer> {
    const row = this.db.prepare<[string], { handle: string }>('SELECT handle FROM member_passkey_handles WHERE user_id = ?').get(userId);
    if (row) return new Uint8Array(Buffer.from(row.handle, 'base64url'));
    if (!this.members.isEnabled(userId)) throw notFound('unknown_member', `${userId} is not a member of this server`);
    const handle = randomBytes(16);
    this.db.prepare('INSERT INTO member_passkey_handles (user_id, handle) VALUES (?, ?)').run(userId, handle.toString('base64url'));
    return new Uint8Array(handle);
  }
}
