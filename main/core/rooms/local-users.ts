import { joinDisplayName } from './event-types.ts';
import type { Db } from '../store/database.ts';

export interface LocalUser {
  user_id: string;
  localpart: string;
  created_at: number;
}

/** The settings key of the owner's display name ('' when none). */
const OWNER_NAME_KEY = 'owner_display_name';

/** Users of this server. `@owner:<server>` exists from init. */
export class LocalUsers {
  private readonly db: Db;
  private readonly getStmt;

  constructor(db: Db) {
    this.db = db;
    this.getStmt = db.prepare<[string], LocalUser>('SELECT * FROM local_users WHERE user_id = ?');
  }

  get(userId: string): LocalUser | undefined {
    return this.getStmt.get(userId);
  }

  private nameStmt: import('better-sqlite3').Statement<[string], { display_name: string | null }> | undefined;

  /**
   * The user's current display name (a member's, set on their Account page; the owner's, set on
   * the dashboard and kept in the settings), which the joins we make for them carry
   * (docs/PROTOCOL.md "Display names"); null when none.
   */
  displayName(userId: string): string | null {
    if (userId.startsWith('@owner:')) return this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(OWNER_NAME_KEY)?.value || null;
    this.nameStmt ??= this.db.prepare('SELECT display_name FROM member_credentials WHERE user_id = ?');
    return this.nameStmt.get(userId)?.display_name ?? null;
  }

  /** The owner's display name (the admin API's setOwnerProfile); null: none. */
  setOwnerDisplayName(name: string | null): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(OWNER_NAME_KEY, name ?? '');
  }

  /** A join's content for the user: `content`, with their display name when they have one the join schema takes. */
  joinContent<T extends Record<string, unknown>>(userId: string, content: T): T & { display_name?: string } {
    const name = joinDisplayName({ display_name: this.displayName(userId) });
    return name === null ? content : { ...content, display_name: name };
  }

  list(): LocalUser[] {
    return this.db.prepare<[], LocalUser>('SELECT * FROM local_users ORDER BY user_id').all();
  }

  /** Adds a user; false when it already exists. */
  add(localpart: string, serverName: string, now = Date.now()): { user_id: string; created: boolean } {
    const userId = `@${localpart}:${serverName}`;
    const result = this.db.prepare('INSERT OR IGNORE INTO local_users (user_id, localpart, created_at) VALUES (?, ?, ?)').run(userId, localpart, now);
    return { user_id: userId, created: result.changes === 1 };
  }
}
