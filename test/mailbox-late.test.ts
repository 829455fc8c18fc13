/**
 * Issue #32 with a room's host away: a member's message that waits at the common friend's mailbox
 * longer than the host accepts (it refuses an event signed over a minute before it takes it) is
 * re-issued by the member and arrives (docs/SECURITY.md Reachability 3b); so is one nobody took
 * within the mailbox's week. A file of its own: it
 * waits a minute, beside the other files rather than after test/mailbox.test.ts's tests.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, send } from './helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

describe('a friend\'s node as a mailbox, the room\'s host away for over a minute', () => {
  it('a message that waits at the mailbox longer than the host accepts (it refuses events signed over a minute before it takes them) is re-issued and arrives; one taken in time is not', async ({ nodes }) => {
    const { alpha, beta, roomId, closed } = await twoHomesAndAFriend(nodes);
    const bodies = (n: NodeProcess) => queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY depth", roomId).map((r) => r.body);
    // Twin: taken in time, as it was signed.
    const prompt = await send(beta, roomId, 'taken in time');
    await eventually(async () => expect(bodies(alpha)).toContain('taken in time'), 60_000, 100);
    // The host is away for longer than a minute while beta writes: it waits at carol for alpha.
    expect(await alpha.stop()).toBe(0);
    const sentAt = Date.now();
    const late = await send(beta, roomId, 'written while the host was away');
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT event_id FROM mailbox_deposits WHERE event_id = ?', late)).toHaveLength(1), 30_000, 100);
    const signedTs = queryNodeDb<{ origin_ts: number }>(beta.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', late)[0]!.origin_ts;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, sentAt + 62_000 - Date.now())));
    await alpha.start(homeArgs(closed.alpha));
    // alpha took the first copy from carol and refused it as too old; beta saw it taken late,
    // signed it again and sent it again: it arrives, once, under its own id.
    await eventually(async () => expect(bodies(alpha)).toContain('written while the host was away'), 90_000, 250);
    expect(bodies(alpha).filter((b) => b === 'written while the host was away')).toHaveLength(1);
    expect(queryNodeDb<{ origin_ts: number }>(alpha.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', late)[0]!.origin_ts).toBeGreaterThan(signedTs);
    expect(beta.stderr).toContain('"event":"mailbox_taken_late"');
    // Only that one was signed again: the one taken in time is as beta signed it, on both sides.
    expect(beta.stderr.match(/"event":"mailbox_taken_late"/g)).toHaveLength(1);
    const hashOf = (n: NodeProcess, id: string) => queryNodeDb<{ content_hash: string }>(n.dataDir, 'SELECT content_hash FROM federation_events WHERE event_id = ?', id)[0]!.content_hash;
    expect(hashOf(alpha, prompt)).toBe(hashOf(beta, prompt));
    expect(hashOf(alpha, late)).toBe(hashOf(beta, late));
  }, 240_000);

  it('a message nobody took from the mailbox within its week is re-issued and sent again, never forgotten', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    const bodies = (n: NodeProcess) => queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message'", roomId).map((r) => r.body);
    expect(await alpha.stop()).toBe(0);
    const left = await send(beta, roomId, 'left for a week');
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits WHERE event_id = ?', left)).toHaveLength(1), 30_000, 100);
    const depositId = queryNodeDb<{ deposit_id: number }>(beta.dataDir, 'SELECT deposit_id FROM mailbox_deposits WHERE event_id = ?', left)[0]!.deposit_id;
    // A week passes with the host away: beta's deposit dates from 8 days ago, and carol, which keeps
    // things a week, no longer holds it (both written beside the running nodes, as the clock would).
    const write = (dir: string, sql: string, ...params: unknown[]) => {
      const db = new Database(join(dir, 'paracord.db'));
      try {
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    };
    write(beta.dataDir, 'UPDATE mailbox_deposits SET deposited_at = deposited_at - ? WHERE event_id = ?', 8 * 86_400_000, left);
    write(carol.dataDir, 'DELETE FROM mailbox_items WHERE id = ?', depositId);
    // beta sees its deposit past the week: signed again, left at carol again.
    await eventually(async () => expect(beta.stderr).toContain('"event":"mailbox_taken_late"'), 30_000, 100);
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits WHERE event_id = ? AND deposit_id <> ?', left, depositId)).toHaveLength(1), 30_000, 100);
    // The host comes back: the message arrives, once.
    await alpha.start(homeArgs(closed.alpha));
    await eventually(async () => expect(bodies(alpha)).toContain('left for a week'), 90_000, 250);
    expect(bodies(alpha).filter((b) => b === 'left for a week')).toHaveLength(1);
  }, 240_000);
});
