/**
 * Ids friends hold as cursors: our outbox entries (a friend that pulls acknowledges up to one) and
 * the items we keep as a mailbox (a recipient fetches after one; a depositor asks about its
 * deposit by one). Such an id can be handed out before it is on disk: a pull or a mailbox fetch
 * may be answered between a commit and its WAL flush. When the power goes then, the rows and
 * SQLite's counter go back, and the counter hands the same ids out again: a friend's cursor past
 * them skips the new entries, and its next acknowledgement deletes them unserved (a red-team
 * review, 2026-11-30; a restored backup is the same case on a larger scale, backup/restore.ts).
 * So the counters move past anything that could have been handed out and lost.
 */
import type { Db } from './database.ts';

const CURSOR_TABLES = ['federation_outbox', 'mailbox_items'] as const;

/**
 * At every start: more ids than a node hands out between a commit and its flush. Cursors are at
 * most 15 digits (pull-queue.ts, mailbox routes): a billion starts.
 */
export const START_ID_GAP = 1_000_000;

/** Moves the counters of the cursor tables `gap` past where they stand (or start there), and to `atLeast` at least. */
export function moveIdCursorsPast(db: Db, gap: number, atLeast = 0): void {
  const seq = db.prepare<[string], { seq: number }>('SELECT seq FROM sqlite_sequence WHERE name = ?');
  const update = db.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ?');
  const insert = db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)');
  db.transaction(() => {
    for (const table of CURSOR_TABLES) {
      const row = seq.get(table);
      if (row) update.run(Math.max(row.seq + gap, atLeast), table);
      else insert.run(table, Math.max(gap, atLeast));
    }
  })();
}
