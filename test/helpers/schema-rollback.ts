/**
 * Tests that put a database back to an old schema version (user_version) and run the migrations
 * again: what migration 33 and later added that cannot be made twice (a column, a trigger over
 * it, an index on it) is taken away first, here, so that each such test names only the older
 * steps it undoes itself. A migration that adds something not idempotent adds its undo here.
 */
import type Database from 'better-sqlite3';

const UNDO_FROM_33 = [
  // 33: the table 34 adds to.
  'DROP TABLE IF EXISTS mailbox_retries',
  // 53: auto-quarantined strangers.
  'DROP INDEX IF EXISTS federation_servers_auto_strangers',
  'ALTER TABLE federation_servers DROP COLUMN auto_stranger_at',
  // 55: what a mailbox holds, counted by triggers.
  'DROP TRIGGER IF EXISTS mailbox_items_counted',
  'DROP TRIGGER IF EXISTS mailbox_items_uncounted',
  'DROP TRIGGER IF EXISTS mailbox_items_unchanged',
  'DROP TABLE IF EXISTS mailbox_usage',
  'DROP TABLE IF EXISTS mailbox_share_usage',
  'ALTER TABLE mailbox_items DROP COLUMN share',
  // 56: refused call-backs per invite link.
  'ALTER TABLE peer_invites DROP COLUMN refused_callbacks',
  'ALTER TABLE peer_invites DROP COLUMN refused_last',
];

/** Takes away what migrations 33 and later added that a second run would fail on (call it before setting user_version ≤ 32). */
export function undoMigrationsFrom33(db: Database.Database): void {
  for (const sql of UNDO_FROM_33) db.exec(sql);
}
