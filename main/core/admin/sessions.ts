/**
 * How the browser UI gets in (the Syncthing model): the node prints a one-time login URL; opening
 * it trades the code for a session cookie (HttpOnly, SameSite=Strict). Codes are single use,
 * expire after 15 minutes (the link `serve --open` hands the browser: 60 seconds) and live in
 * memory. Sessions (issue #16 item 1) are kept in SQLite (`admin_sessions`): they survive
 * restarts, expire after 30 days without use (NodeConfig.sessionTtlSeconds), and the owner
 * can list and revoke them. Only a SHA-256 hash of a session's token is stored, so a copy of the
 * database does not let anyone in. `paracord-node login` prints a fresh URL at any time.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/database.ts';

const CODE_TTL_MS = 15 * 60_000;
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** last_used_at (and the sliding expiry) is written at most this often per session (and a tenth of its lifetime). */
const TOUCH_EVERY_MS = 60_000;
export const SESSION_COOKIE = 'paracord_session';

export interface SessionInfo {
  id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  user_agent: string | null;
}

interface SessionRow extends SessionInfo {
  token_hash: Buffer;
  revoked_at: number | null;
}

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class LoginSessions {
  private readonly codes = new Map<string, number>();
  /** Without a database (tests of the app alone) sessions live in memory, keyed by token hash. */
  private readonly memory = new Map<string, SessionRow>();

  private readonly db: Db | undefined;
  /** How long a session lasts without use. */
  readonly ttlMs: number;
  private readonly touchEveryMs: number;

  /**
   * Told after a session was revoked or signed out: the node's `status` notification, on which
   * every open stream checks its credential again (credential-gate.ts). Without it a revoked
   * page's streams heard everything until some unrelated status change came.
   */
  private readonly onEnded: (() => void) | undefined;

  constructor(db?: Db, ttlMs = SESSION_TTL_MS, onEnded?: () => void) {
    this.db = db;
    this.ttlMs = ttlMs;
    this.touchEveryMs = Math.min(TOUCH_EVERY_MS, ttlMs / 10);
    this.onEnded = onEnded;
  }

  /** A one-time login code, valid 15 minutes or `validForMs` when that is shorter. */
  newLoginCode(now = Date.now(), validForMs = CODE_TTL_MS): string {
    for (const [code, expires] of this.codes) if (expires <= now) this.codes.delete(code);
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, now + Math.min(validForMs, CODE_TTL_MS));
    return code;
  }

  /** Forgets a login code unused (the browser that opened it was already signed in). */
  discardCode(code: string): void {
    this.codes.delete(code);
  }

  /** Trades a login code for a session token; undefined when the code is unknown, used or expired. */
  redeem(code: string, userAgent: string | null = null, now = Date.now()): string | undefined {
    const expires = this.codes.get(code);
    if (expires === undefined) return undefined;
    this.codes.delete(code);
    if (expires <= now) return undefined;
    const token = randomBytes(32).toString('base64url');
    const row: SessionRow = {
      id: `ses_${randomBytes(9).toString('base64url')}`,
      token_hash: hashToken(token),
      created_at: now,
      last_used_at: now,
      expires_at: now + this.ttlMs,
      user_agent: userAgent ? userAgent.slice(0, 300) : null,
      revoked_at: null,
    };
    if (this.db) {
      this.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ? OR revoked_at IS NOT NULL').run(now);
      this.db
        .prepare('INSERT INTO admin_sessions (id, token_hash, created_at, last_used_at, expires_at, user_agent) VALUES (?, ?, ?, ?, ?, ?)')
        .run(row.id, row.token_hash, row.created_at, row.last_used_at, row.expires_at, row.user_agent);
    } else this.memory.set(row.token_hash.toString('hex'), row);
    return token;
  }

  private find(token: string | undefined): SessionRow | undefined {
    if (!token || token.length > 200) return undefined;
    const hash = hashToken(token);
    // A lookup by hash: the comparison is on a hash of the secret, so it leaks nothing useful by timing.
    if (this.db) return this.db.prepare<[Buffer], SessionRow>('SELECT * FROM admin_sessions WHERE token_hash = ?').get(hash);
    return this.memory.get(hash.toString('hex'));
  }

  /**
   * The session id of a valid (known, unexpired, unrevoked) token; refreshes its sliding expiry
   * unless `use` is false (a live stream's check before it passes a notification on: not a use).
   */
  check(token: string | undefined, now = Date.now(), use = true): string | undefined {
    const row = this.find(token);
    if (!row || row.revoked_at !== null || row.expires_at <= now) return undefined;
    if (use && now - row.last_used_at >= this.touchEveryMs) {
      if (this.db) this.db.prepare('UPDATE admin_sessions SET last_used_at = ?, expires_at = ? WHERE id = ?').run(now, now + this.ttlMs, row.id);
      else Object.assign(row, { last_used_at: now, expires_at: now + this.ttlMs });
    }
    return row.id;
  }

  /** Whether the session of this id is still valid (not revoked, not expired); changes nothing (no sliding refresh). */
  isLive(id: string, now = Date.now()): boolean {
    const row = this.db
      ? this.db.prepare<[string], SessionRow>('SELECT * FROM admin_sessions WHERE id = ?').get(id)
      : [...this.memory.values()].find((r) => r.id === id);
    return row !== undefined && row.revoked_at === null && row.expires_at > now;
  }

  isValid(token: string | undefined, now = Date.now()): boolean {
    return this.check(token, now) !== undefined;
  }

  /** The active sessions, newest use first. */
  list(now = Date.now()): SessionInfo[] {
    const rows = this.db
      ? this.db.prepare<[number], SessionRow>('SELECT * FROM admin_sessions WHERE revoked_at IS NULL AND expires_at > ? ORDER BY last_used_at DESC').all(now)
      : [...this.memory.values()].filter((r) => r.revoked_at === null && r.expires_at > now).sort((a, b) => b.last_used_at - a.last_used_at);
    return rows.map(({ id, created_at, last_used_at, expires_at, user_agent }) => ({ id, created_at, last_used_at, expires_at, user_agent }));
  }

  /** Revokes a session by id; false when there is no such active session. */
  revoke(id: string, now = Date.now()): boolean {
    const revoked = this.db ? this.db.prepare('UPDATE admin_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes > 0 : this.revokeInMemory(id, now);
    if (revoked) this.onEnded?.();
    return revoked;
  }

  private revokeInMemory(id: string, now: number): boolean {
    for (const row of this.memory.values()) {
      if (row.id === id && row.revoked_at === null) {
        row.revoked_at = now;
        return true;
      }
    }
    return false;
  }

  /** Ends the session of a token (sign-out). */
  end(token: string | undefined): void {
    const id = this.check(token);
    if (id) this.revoke(id);
  }
}
