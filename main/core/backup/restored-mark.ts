/**
 * The mark a restore leaves in the data folder's database: this node was restored from a backup,
 * whose newest event of its own was signed at `since`. At its next starts the node asks its rooms'
 * member servers for the events of its own origin they hold from about then (rooms/own-recovery.ts,
 * docs/PROTOCOL.md §Recovering a restored host's own events), and clears the mark once each
 * answered (or a day after its first try).
 */
import Database from 'better-sqlite3';
import type { Settings } from '../store/settings.ts';

export const RESTORED_MARK_KEY = 'restored_own_events';

export interface RestoredMark {
  /** The backup's newest stored event of this node's own origin (its created_at without one), ms. */
  since: number;
  /** When the restore was made (ms). */
  restored_at: number;
  /** When the node first asked its members (ms); the recovery is given up a day after it. */
  first_try_at?: number;
}

/** Writes the mark into a restored database (restore.ts, before it is renamed into place). */
export function markRestoredInDatabase(databaseFile: string, serverName: string, backupCreatedAt: number, now = Date.now()): RestoredMark {
  const db = new Database(databaseFile, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const hasEvents = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'federation_events'`).get() !== undefined;
    const newest = hasEvents
      ? (db.prepare('SELECT MAX(origin_ts) AS ts FROM federation_events WHERE origin_server = ?').get(serverName) as { ts: number | null }).ts
      : null;
    const mark: RestoredMark = { since: Math.min(newest ?? backupCreatedAt, backupCreatedAt), restored_at: now };
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(RESTORED_MARK_KEY, JSON.stringify(mark));
    return mark;
  } finally {
    db.close();
  }
}

/** The mark, or null when this node was not restored (or its recovery ended). */
export function readRestoredMark(settings: Settings): RestoredMark | null {
  const raw = settings.get(RESTORED_MARK_KEY);
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<RestoredMark>;
    if (typeof value.since !== 'number' || !Number.isSafeInteger(value.since) || typeof value.restored_at !== 'number') return null;
    return { since: value.since, restored_at: value.restored_at, ...(typeof value.first_try_at === 'number' ? { first_try_at: value.first_try_at } : {}) };
  } catch {
    return null;
  }
}

export function writeRestoredMark(settings: Settings, mark: RestoredMark | null): void {
  settings.set(RESTORED_MARK_KEY, mark ? JSON.stringify(mark) : '');
}
