import type { Db } from '../store/database.ts';

export interface LocalUser {
  user_id: string;
  localpart: string;
  created_at: number;
}

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
