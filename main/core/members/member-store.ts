/**
 * Members of a small server (issue #34): local users who sign in from their own devices.
 *  - the owner issues one-time member links (to join, or to set a new passphrase), which expire
 *    (7 days by default), work once and can be revoked; only the SHA-256 of a token is kept;
 *  - a person redeems a join link with a user name (the localpart of `@name:<server>`) and a
 *    passphrase, and is signed in;
 *  - sign-in answers alike, in about the same time, whether the member exists or not, and is limited
 *    per account and per address (sign-in-limiter.ts);
 *  - sessions are random tokens (the cookie), bound to the host they were issued for; disabling a
 *    member or changing its passphrase ends its sessions at once;
 *  - a device a member signed in from is remembered (another random token, its own cookie): its
 *    sign-in attempts count against that device, not against the account, so strangers guessing
 *    the passphrase do not keep the member out (sign-in-limiter.ts).
 * The HTTP side (cookies, CSRF, the client API on the federation listener) is built on this.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/database.ts';
import { HttpError, badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { hashPassphrase, verifyNobody, passphraseProblem, verifyPassphrase } from './passphrase.ts';
import { SignInLimiter } from './sign-in-limiter.ts';
import { MemberPasskeys } from './passkeys.ts';
import type { MemberInvite } from '../../../shared/contract/admin/members.ts';

export const DEFAULT_MEMBER_LINK_LIFETIME_MS = 7 * 24 * 3600_000;
export const SESSION_LIFETIME_MS = 30 * 24 * 3600_000;
/** A member changes its passphrase (with the current one) at most once in this long. */
export const PASSPHRASE_CHANGE_GAP_MS = 60_000;
/** A member's devices signed in at once, at most (the least recently used one is signed out). */
export const MAX_SESSIONS_PER_MEMBER = 50;
/** A device a member signed in from is remembered this long after it was last used (browsers keep a cookie at most 400 days). */
export const DEVICE_LIFETIME_MS = 400 * 24 * 3600_000;
/** Devices remembered per member, at most (the least recently used one is forgotten). */
export const MAX_DEVICES_PER_MEMBER = 20;
/** A Host header: a DNS name (253) and a port. */
const MAX_SESSION_HOST_CHARS = 260;
/** The localpart of a member's user id: what people type, kept simple. */
export const LOCALPART = /^[a-z0-9][a-z0-9._-]{0,31}$/;
/** Names a member may not take: the owner's and what looks like the server's own. */
const RESERVED = new Set(['owner', 'admin', 'administrator', 'root', 'server', 'system', 'paracord']);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newToken = () => randomBytes(32).toString('base64url');

/** A member link as the owner lists it: the contract's shape (shared/contract/admin/members.ts). */
export type MemberLink = MemberInvite;

export interface Member {
  user_id: string;
  display_name: string | null;
  created_at: number;
  disabled: boolean;
  last_seen_at: number | null;
  sessions: number;
  /** Passkeys it can sign in with (the owner sees how many, not which: a reset link removes them). */
  passkeys: number;
}

export interface MemberSession {
  id: string;
  host: string;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

interface LinkRow { id: string; token_hash: string; purpose: 'join' | 'reset'; user_id: string | null; note: string | null; created_at: number; expires_at: number; used_at: number | null; used_by: string | null; revoked_at: number | null }
interface CredentialRow { user_id: string; passphrase_hash: string; passphrase_changed_at: number; display_name: string | null; disabled_at: number | null; last_seen_at: number | null }

export interface SignedIn {
  user_id: string;
  /** The session's token: the cookie's value, never stored. */
  token: string;
  session: MemberSession;
  /** The token of the device it signed in from (the device cookie's value, never stored): the one it presented, or a new one. */
  deviceToken: string;
}

/**
 * Where a session is opened: the Host it is bound to, the client's address (the sign-in limits
 * count it) and the device token the client presented (its device cookie, when it has one).
 */
export interface MemberDevice {
  host: string;
  userAgent?: string;
  knownDevice?: string;
}

export class MemberStore {
  private readonly db: Db;
  private readonly serverName: () => string;
  readonly limiter: SignInLimiter;
  /** Members' passkeys (WebAuthn): another way to sign in, under the same limits. */
  readonly passkeys: MemberPasskeys;
  /** Members whose passphrase is being checked now (a change with the current one, or a confirmation): one at a time each. */
  private readonly checking = new Map<string, 'change' | 'confirm'>();
  /** When each member last changed its passphrase with the current one (since start; members are few). */
  private readonly changedAt = new Map<string, number>();
  /** When each member last confirmed its passphrase rightly (since start). */
  private readonly confirmedAt = new Map<string, number>();

  constructor(db: Db, serverName: () => string, limiter = new SignInLimiter()) {
    this.db = db;
    this.serverName = serverName;
    this.limiter = limiter;
    this.passkeys = new MemberPasskeys(db, this, serverName);
  }

  // ——— member links ———

  /** `displayName` (a join link): the member's display name once it joins with it. */
  createLink(purpose: 'join' | 'reset', options: { userId?: string; note?: string; displayName?: string; lifetimeMs?: number } = {}, now = Date.now()): { id: string; token: string; expires_at: number } {
    if (purpose === 'reset') {
      if (!options.userId || !this.credentials(options.userId)) throw notFound('unknown_member', `${options.userId ?? 'nobody'} is not a member of this server`);
    }
    const token = newToken();
    const id = `mlink_${randomBytes(9).toString('base64url')}`;
    const expiresAt = now + (options.lifetimeMs ?? DEFAULT_MEMBER_LINK_LIFETIME_MS);
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO member_links (id, token_hash, purpose, user_id, note, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, sha256(token), purpose, options.userId ?? null, options.note ?? null, now, expiresAt);
      if (purpose === 'join' && options.displayName) this.db.prepare('INSERT INTO member_link_names (link_id, display_name) VALUES (?, ?)').run(id, options.displayName);
    })();
    return { id, token, expires_at: expiresAt };
  }

  listLinks(now = Date.now()): MemberLink[] {
    return this.db
      .prepare<[], LinkRow & { display_name: string | null }>('SELECT l.*, n.display_name FROM member_links l LEFT JOIN member_link_names n ON n.link_id = l.id ORDER BY l.created_at DESC')
      .all()
      .map((r) => ({
        id: r.id, purpose: r.purpose, user_id: r.user_id, note: r.note, display_name: r.display_name, created_at: r.created_at, expires_at: r.expires_at, used_at: r.used_at, used_by: r.used_by, revoked_at: r.revoked_at,
        state: r.revoked_at ? 'revoked' : r.used_at ? 'used' : r.expires_at <= now ? 'expired' : 'active',
      }));
  }

  revokeLink(id: string, now = Date.now()): MemberLink {
    const changed = this.db.prepare('UPDATE member_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL').run(now, id).changes;
    const view = this.listLinks(now).find((l) => l.id === id);
    if (!view) throw notFound('unknown_link', `no member link ${id}`);
    if (changed === 0 && view.state === 'used') throw conflict('link_used', 'this link was already used');
    return view;
  }

  /** What a link is for, without using it (the sign-up page asks before showing its form). */
  inspectLink(token: string, now = Date.now()): { purpose: 'join' | 'reset'; user_id: string | null } {
    const row = this.usableLink(token, now);
    return { purpose: row.purpose, user_id: row.user_id };
  }

  private usableLink(token: string, now: number): LinkRow {
    const row = this.db.prepare<[string], LinkRow>('SELECT * FROM member_links WHERE token_hash = ?').get(sha256(token));
    if (!row) throw forbidden('invalid_link', 'this member link is not valid here; ask the owner for a new one');
    if (row.revoked_at) throw forbidden('link_revoked', 'this member link was revoked by the owner');
    if (row.used_at) throw conflict('link_used', 'this member link was already used; ask the owner for a new one');
    if (row.expires_at <= now) throw new HttpError(410, 'link_expired', 'this member link has expired; ask the owner for a new one');
    return row;
  }

  // ——— joining, signing in ———

  /** Redeems a join link: a new member `@localpart:<server>` with this passphrase, signed in. */
  async join(token: string, localpart: string, passphrase: string, device: MemberDevice, now = Date.now()): Promise<SignedIn> {
    const row = this.usableLink(token, now);
    if (row.purpose !== 'join') throw badRequest('wrong_link', 'this link sets a new passphrase; it does not make a new member');
    const name = localpart.toLowerCase();
    if (!LOCALPART.test(name)) throw badRequest('invalid_name', 'a user name has 1–32 characters: lowercase letters, digits, and . _ - (not first)');
    if (RESERVED.has(name)) throw conflict('name_taken', `the name ${name} is reserved; choose another`);
    const problem = await passphraseProblem(passphrase, [name, this.serverName()]);
    if (problem) throw badRequest('weak_passphrase', problem);
    const hash = await hashPassphrase(passphrase);
    const userId = `@${name}:${this.serverName()}`;
    return this.db.transaction(() => {
      // Checked again in the transaction: single use even under a race.
      this.usableLink(token, now);
      const added = this.db.prepare('INSERT OR IGNORE INTO local_users (user_id, localpart, created_at) VALUES (?, ?, ?)').run(userId, name, now).changes;
      if (added === 0) throw conflict('name_taken', `${userId} is taken; choose another name`);
      this.db
        .prepare('INSERT INTO member_credentials (user_id, passphrase_hash, passphrase_changed_at, last_seen_at, display_name) VALUES (?, ?, ?, ?, (SELECT display_name FROM member_link_names WHERE link_id = ?))')
        .run(userId, hash, now, now, row.id);
      this.db.prepare('UPDATE member_links SET used_at = ?, used_by = ? WHERE id = ?').run(now, userId, row.id);
      return this.newSession(userId, device, now);
    })();
  }

  /**
   * Signs a member in. Unknown names, disabled members and wrong passphrases get the same answer
   * after the same work (a hash is verified either way); failures count per address, and per
   * account, or per device when the client presents one this member signed in from before.
   */
  async signIn(localpart: string, passphrase: string, device: MemberDevice & { address: string }, now = Date.now()): Promise<SignedIn> {
    const name = localpart.toLowerCase();
    const userId = `@${name}:${this.serverName()}`;
    const known = this.knownDevice(userId, device, now);
    this.beginAttempt(name, device.address, now, known);
    const row = LOCALPART.test(name) ? this.credentials(userId) : undefined;
    const matches = row ? await verifyPassphrase(row.passphrase_hash, passphrase.slice(0, 1024)) : await verifyNobody(passphrase.slice(0, 1024));
    const failed = () => new HttpError(401, 'sign_in_failed', 'that user name and passphrase do not match a member of this server');
    if (!row || !matches || row.disabled_at !== null) throw failed();
    const signedIn = this.db.transaction(() => {
      // Checked again where the session is written: the owner may have turned the member off, or a
      // new passphrase may have been set, while the (slow) check ran (a helper's review).
      const current = this.credentials(userId);
      if (!current || current.disabled_at !== null || current.passphrase_hash !== row.passphrase_hash) throw failed();
      return this.newSession(userId, device, now);
    })();
    this.limiter.succeed(name, device.address, now, known);
    return signedIn;
  }

  /** The hash of the device token a client presented, when it is `userId`'s (its attempts then count against it); else undefined. */
  private knownDevice(userId: string, device: MemberDevice, now: number): string | undefined {
    return device.knownDevice !== undefined && this.deviceOwner(device.knownDevice, now) === userId ? sha256(device.knownDevice) : undefined;
  }

  /**
   * Every check of a member's passphrase (signing in, or the current one a new one needs) counts
   * against the sign-in limits of its account and the client's address, before the (slow) check,
   * so guesses sent together are limited as if sent one by one; `succeed` takes a right one back.
   */
  private beginAttempt(account: string, address: string, now: number, device?: string): void {
    const limited = this.limiter.begin(account, address, now, device);
    if (!limited.ok) throw new HttpError(429, 'too_many_attempts', limited.message, { 'retry-after': String(Math.ceil(limited.retryAfterMs / 1000)) });
  }

  /** A new session for a member whose proof (a passkey) was checked elsewhere; null when it is not an enabled member. */
  openSession(userId: string, device: MemberDevice, now = Date.now()): SignedIn | null {
    const row = this.credentials(userId);
    if (!row || row.disabled_at !== null) return null;
    return this.db.transaction(() => this.newSession(userId, device, now))();
  }

  /** Whether `localpart` (as typed at sign-in, any case) names a member of this server, disabled or not. */
  isMemberName(localpart: string): boolean {
    return this.credentials(`@${localpart.trim().toLowerCase()}:${this.serverName()}`) !== undefined;
  }

  /** Whether `userId` is a member that is not disabled. */
  isEnabled(userId: string): boolean {
    const row = this.credentials(userId);
    return row !== undefined && row.disabled_at === null;
  }

  /**
   * The member a session token stands for on `host`, or null (unknown, expired, another host,
   * disabled). `seen`: this use was written (at most once a minute a session): the middleware then
   * refreshes the device too (refreshDevice).
   */
  session(token: string, host: string, now = Date.now(), use = true): { user_id: string; session_id: string; seen: boolean } | null {
    const row = this.db
      .prepare<[string], { id: string; user_id: string; host: string; expires_at: number; last_seen_at: number }>('SELECT id, user_id, host, expires_at, last_seen_at FROM member_sessions WHERE token_hash = ?')
      .get(sha256(token));
    if (!row || row.host !== host.toLowerCase() || row.expires_at <= now) return null;
    if (this.credentials(row.user_id)?.disabled_at !== null) return null;
    // Seen: written at most once a minute per session (a live stream's check before a notification is not a use).
    const seen = use && now - row.last_seen_at > 60_000;
    if (seen) {
      this.db.prepare('UPDATE member_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?').run(now, now + SESSION_LIFETIME_MS, row.id);
      this.db.prepare('UPDATE member_credentials SET last_seen_at = ? WHERE user_id = ?').run(now, row.user_id);
    }
    return { user_id: row.user_id, session_id: row.id, seen };
  }

  /**
   * A session in use keeps the device that opened it known (a member signed in for good would
   * otherwise be a stranger to the sign-in limits 400 days after its last sign-in): whether
   * `token` is that device's, still remembered (then seen now, and its cookie set again).
   */
  refreshDevice(userId: string, sessionId: string, token: string, now = Date.now()): boolean {
    return this.db
      .prepare('UPDATE member_devices SET last_used_at = ? WHERE token_hash = ? AND user_id = ? AND session_id = ? AND last_used_at > ?')
      .run(now, sha256(token), userId, sessionId, now - DEVICE_LIFETIME_MS).changes > 0;
  }

  /** Whether a session still exists and has not expired (a disabled member's and a signed-out one's do not). */
  isLive(sessionId: string, now = Date.now()): boolean {
    return this.db.prepare<[string, number], { id: string }>('SELECT id FROM member_sessions WHERE id = ? AND expires_at > ?').get(sessionId, now) !== undefined;
  }

  // ——— the member's own account ———

  /** Where the member is signed in now: expired sessions are over (they were listed, and counted as devices signed in). */
  sessionsOf(userId: string, now = Date.now()): MemberSession[] {
    return this.db
      .prepare<[string, number], MemberSession>('SELECT id, host, user_agent, created_at, last_seen_at, expires_at FROM member_sessions WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC')
      .all(userId, now);
  }

  /**
   * Ends one of `userId`'s sessions (only its own: another member's id is "not found").
   * `forgetDevice`: the device that opened it is no longer known
   * either (the member ended a lost phone's session from another device: the phone's own count of
   * sign-in failures goes with it); signing out keeps it.
   */
  endSession(userId: string, sessionId: string, options: { forgetDevice?: boolean } = {}): void {
    this.db.transaction(() => {
      if (this.db.prepare('DELETE FROM member_sessions WHERE id = ? AND user_id = ?').run(sessionId, userId).changes === 0) throw notFound('unknown_session', 'no such session of yours');
      if (options.forgetDevice) this.db.prepare('DELETE FROM member_devices WHERE user_id = ? AND session_id = ?').run(userId, sessionId);
    })();
  }

  /**
   * A new passphrase (knowing the old one, or with a reset link's token): every session ends and
   * every remembered device is forgotten; the caller gets a new session (its device remembered
   * anew). The old one is checked under the sign-in limits (`device.address`, and the account's
   * count, or the device's for a device the member signed in from): a stolen session is no way
   * to guess it freely.
   */
  async changePassphrase(userId: string, proof: { current: string } | { token: string }, next: string, device: MemberDevice & { address: string }, now = Date.now()): Promise<SignedIn> {
    const row = this.credentials(userId);
    if (!row) throw notFound('unknown_member', `${userId} is not a member of this server`);
    if ('token' in proof) {
      const link = this.usableLink(proof.token, now);
      if (link.purpose !== 'reset' || link.user_id !== userId) throw forbidden('invalid_link', 'this link does not set a passphrase for this member');
      // Not used up for an account the owner turned off (it was, and the sign-in after it failed unexplained).
      if (row.disabled_at !== null) throw forbidden('member_disabled', 'the owner of this server has turned this account off');
      await this.checkNewPassphrase(userId, next);
      return this.setPassphrase(userId, row, link, proof, next, device, now);
    } else {
      // Two Argon2id runs each, outside the anonymous limits, and a success clears the account's
      // count: a member's script changing its passphrase again and again held the node's two
      // hashing slots, and everyone's sign-in waited (a red-team review, 2026-11-30). One at a
      // time per member, and not again within a minute of the last change.
      const last = this.changedAt.get(userId);
      // A confirmation (passkeys) running: seconds, not the change's minute.
      if (this.checking.get(userId) === 'confirm') throw new HttpError(429, 'passphrase_check_running', 'this account\'s passphrase is being checked; try again in a few seconds', { 'retry-after': '2' });
      if (this.checking.has(userId) || (last !== undefined && last <= now && now - last < PASSPHRASE_CHANGE_GAP_MS)) {
        throw new HttpError(429, 'passphrase_changed_recently', 'this account\'s passphrase was changed less than a minute ago (or is being changed); try again in a minute', { 'retry-after': '60' });
      }
      this.checking.set(userId, 'change');
      try {
        const signedIn = await this.changeWithCurrent(userId, row, proof.current, next, device, now);
        this.changedAt.set(userId, now);
        return signedIn;
      } finally {
        this.checking.delete(userId);
      }
    }
  }

  /**
   * The member proves it knows its passphrase before something a stolen session must not do
   * (adding a passkey, which would outlive the session): checked under the sign-in limits, as a
   * sign-in is. Each check is an Argon2id run outside the anonymous limits, and a right one
   * clears the counts: one at a time per member, and none within 10 s (the limiter's confirmGapMs) of a
   * right one (a member's script repeating its right passphrase held a hashing slot: a review).
   * 401 wrong_passphrase when it is not right.
   */
  async confirmPassphrase(userId: string, passphrase: string, device: MemberDevice & { address: string }, now = Date.now()): Promise<void> {
    const row = this.credentials(userId);
    if (!row || row.disabled_at !== null) throw new HttpError(401, 'session_ended', 'this session has ended; sign in again');
    const last = this.confirmedAt.get(userId);
    const wait = last !== undefined && last <= now ? this.limiter.confirmGapMs - (now - last) : 0;
    if (this.checking.has(userId) || wait > 0) {
      throw new HttpError(429, 'passphrase_check_running', 'this account\'s passphrase is being checked, or was a few seconds ago; try again in a few seconds', { 'retry-after': String(Math.max(2, Math.ceil(wait / 1000))) });
    }
    this.checking.set(userId, 'confirm');
    try {
      await this.checkUnderLimits(userId, row, passphrase, device, now, 'the passphrase is not right');
      this.confirmedAt.set(userId, now);
    } finally {
      this.checking.delete(userId);
    }
  }

  /** changePassphrase with the current passphrase: checked under the sign-in limits, then set. */
  private async changeWithCurrent(userId: string, row: CredentialRow, current: string, next: string, device: MemberDevice & { address: string }, now: number): Promise<SignedIn> {
    // A weak new one is refused before the current one is checked (an Argon2id run: refused after
    // it, a weak one cost that run without counting as a change, again and again).
    await this.checkNewPassphrase(userId, next);
    await this.checkUnderLimits(userId, row, current, device, now, 'the current passphrase is not right');
    return this.setPassphrase(userId, row, null, { current }, next, device, now);
  }

  /**
   * A signed-in member's passphrase checked (a change's current one, a confirmation) under the
   * sign-in limits, as a sign-in is: counted before the (slow) check, against the account or the
   * member's own known device and the address; a right one takes it back. 401 `wrong_passphrase`.
   */
  private async checkUnderLimits(userId: string, row: CredentialRow, passphrase: string, device: MemberDevice & { address: string }, now: number, wrong: string): Promise<void> {
    const account = userId.slice(1).split(':')[0]!;
    const known = this.knownDevice(userId, device, now);
    this.beginAttempt(account, device.address, now, known);
    if (!(await verifyPassphrase(row.passphrase_hash, passphrase.slice(0, 1024)))) throw new HttpError(401, 'wrong_passphrase', wrong);
    this.limiter.succeed(account, device.address, now, known);
  }

  /** Refuses a new passphrase people would guess (400 weak_passphrase). */
  private async checkNewPassphrase(userId: string, next: string): Promise<void> {
    const problem = await passphraseProblem(next, [userId.slice(1).split(':')[0]!, this.serverName()]);
    if (problem) throw badRequest('weak_passphrase', problem);
  }

  /** The new passphrase (checked by checkNewPassphrase) hashed and written, its proof checked before; the sessions and devices ended. */
  private async setPassphrase(userId: string, row: CredentialRow, link: LinkRow | null, proof: { current: string } | { token: string }, next: string, device: MemberDevice, now: number): Promise<SignedIn> {
    const hash = await hashPassphrase(next);
    return this.db.transaction(() => {
      // Checked again where it is written, as signIn does: turned off, or another new passphrase
      // set, while the (slow) checks and hash ran.
      const current = this.credentials(userId);
      if (!current || current.disabled_at !== null) throw forbidden('member_disabled', 'the owner of this server has turned this account off');
      if (!link && current.passphrase_hash !== row.passphrase_hash) throw new HttpError(401, 'wrong_passphrase', 'the current passphrase is not right');
      if (link) {
        this.usableLink(proof && 'token' in proof ? proof.token : '', now);
        this.db.prepare('UPDATE member_links SET used_at = ?, used_by = ? WHERE id = ?').run(now, userId, link.id);
        // The owner's way back into an account: whatever signed in to it before goes, passkeys too
        // (one added with a stolen session, when adding one asked for no passphrase, outlived the reset).
        this.db.prepare('DELETE FROM member_passkeys WHERE user_id = ?').run(userId);
      }
      this.db.prepare('UPDATE member_credentials SET passphrase_hash = ?, passphrase_changed_at = ? WHERE user_id = ?').run(hash, now, userId);
      this.db.prepare('DELETE FROM member_sessions WHERE user_id = ?').run(userId);
      // Whoever signed in before (with the old passphrase) is no one's known device any more.
      this.db.prepare('DELETE FROM member_devices WHERE user_id = ?').run(userId);
      return this.newSession(userId, device, now);
    })();
  }

  setDisplayName(userId: string, displayName: string | null): void {
    if (this.db.prepare('UPDATE member_credentials SET display_name = ? WHERE user_id = ?').run(displayName, userId).changes === 0) throw notFound('unknown_member', `${userId} is not a member of this server`);
  }

  // ——— the owner's view ———

  list(now = Date.now()): Member[] {
    return this.db
      .prepare<[number], CredentialRow & { created_at: number; sessions: number; passkeys: number }>(
        `SELECT c.*, u.created_at, (SELECT COUNT(*) FROM member_sessions s WHERE s.user_id = c.user_id AND s.expires_at > ?) AS sessions,
           (SELECT COUNT(*) FROM member_passkeys p WHERE p.user_id = c.user_id) AS passkeys
         FROM member_credentials c JOIN local_users u ON u.user_id = c.user_id ORDER BY c.user_id`,
      )
      .all(now)
      .map((r) => ({ user_id: r.user_id, display_name: r.display_name, created_at: r.created_at, disabled: r.disabled_at !== null, last_seen_at: r.last_seen_at, sessions: r.sessions, passkeys: r.passkeys }));
  }

  /** How many members have a session now (the tray's and the dashboard's count). */
  signedInCount(now = Date.now()): number {
    return this.db
      .prepare<[number], { n: number }>(
        `SELECT COUNT(DISTINCT s.user_id) AS n FROM member_sessions s JOIN member_credentials c ON c.user_id = s.user_id
         WHERE s.expires_at > ? AND c.disabled_at IS NULL`,
      )
      .get(now)!.n;
  }

  /** Disables (its sessions end at once) or enables a member. */
  setDisabled(userId: string, disabled: boolean, now = Date.now()): Member {
    this.db.transaction(() => {
      if (this.db.prepare('UPDATE member_credentials SET disabled_at = ? WHERE user_id = ?').run(disabled ? now : null, userId).changes === 0) {
        throw notFound('unknown_member', `${userId} is not a member of this server`);
      }
      if (disabled) {
        this.db.prepare('DELETE FROM member_sessions WHERE user_id = ?').run(userId);
        this.db.prepare('DELETE FROM member_devices WHERE user_id = ?').run(userId);
      }
    })();
    return this.list().find((m) => m.user_id === userId)!;
  }

  private credentials(userId: string): CredentialRow | undefined {
    return this.db.prepare<[string], CredentialRow>('SELECT * FROM member_credentials WHERE user_id = ?').get(userId);
  }

  private newSession(userId: string, device: MemberDevice, now: number): SignedIn {
    // A session is bound to its Host (a name and a port): no real one is longer.
    if (device.host.length > MAX_SESSION_HOST_CHARS) throw badRequest('invalid_host', `the address this page was opened at is longer than ${MAX_SESSION_HOST_CHARS} characters`);
    const token = newToken();
    const session: MemberSession = { id: `msess_${randomBytes(9).toString('base64url')}`, host: device.host.toLowerCase(), user_agent: device.userAgent?.slice(0, 200) ?? null, created_at: now, last_seen_at: now, expires_at: now + SESSION_LIFETIME_MS };
    this.db
      .prepare('INSERT INTO member_sessions (id, token_hash, user_id, host, user_agent, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(session.id, sha256(token), userId, session.host, session.user_agent, now, now, session.expires_at);
    // Signing in is being seen (a visit shorter than a minute, on a new session, never counted: a user trial).
    this.db.prepare('UPDATE member_credentials SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE user_id = ?').run(now, userId);
    // The member's sessions that are over go, and past MAX_SESSIONS_PER_MEMBER the least recently
    // used (signing in again and again kept a row each, for ever: a helper's review).
    this.db
      .prepare(`DELETE FROM member_sessions WHERE user_id = ? AND (expires_at <= ? OR id NOT IN
        (SELECT id FROM member_sessions WHERE user_id = ? ORDER BY last_seen_at DESC, created_at DESC LIMIT ?))`)
      .run(userId, now, userId, MAX_SESSIONS_PER_MEMBER);
    return { user_id: userId, token, session, deviceToken: this.rememberDevice(userId, device.knownDevice, session.id, now) };
  }

  /** The member a device token was given to, while it is remembered; else undefined. */
  private deviceOwner(token: string, now: number): string | undefined {
    return this.db
      .prepare<[string, number], string>('SELECT user_id FROM member_devices WHERE token_hash = ? AND last_used_at > ?')
      .pluck()
      .get(sha256(token), now - DEVICE_LIFETIME_MS);
  }

  /**
   * The device a member just signed in from, with the session it opened: the token it presented
   * when that is this member's (seen again now), else a new one. A member's devices not used for
   * DEVICE_LIFETIME_MS go, and past MAX_DEVICES_PER_MEMBER the least recently used.
   */
  private rememberDevice(userId: string, presented: string | undefined, sessionId: string, now: number): string {
    if (presented !== undefined && this.deviceOwner(presented, now) === userId) {
      this.db.prepare('UPDATE member_devices SET last_used_at = ?, session_id = ? WHERE token_hash = ?').run(now, sessionId, sha256(presented));
      return presented;
    }
    const token = newToken();
    this.db.prepare('INSERT INTO member_devices (token_hash, user_id, session_id, created_at, last_used_at) VALUES (?, ?, ?, ?, ?)').run(sha256(token), userId, sessionId, now, now);
    this.db
      .prepare(`DELETE FROM member_devices WHERE user_id = ? AND (last_used_at <= ? OR token_hash NOT IN
        (SELECT token_hash FROM member_devices WHERE user_id = ? ORDER BY last_used_at DESC, created_at DESC LIMIT ?))`)
      .run(userId, now - DEVICE_LIFETIME_MS, userId, MAX_DEVICES_PER_MEMBER);
    return token;
  }
}
