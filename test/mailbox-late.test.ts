/**
 * Issue #32 with a room's host away: a member's message that waits at the common friend's mailbox
 * longer than the host accepts (it refuses an event signed over a minute before it takes it; 24 s
 * here, PARACORD_TEST_EVENT_MAX_AGE_MS on every node, so the test does not wait a minute) is re-issued
 * by the member and arrives (docs/SECURITY.md Reachability 3b); so is one nobody took within the
 * mailbox's week. A file of its own: its waits run beside the other files rather than after
 * test/mailbox.test.ts's.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, send } from './helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

/** How long after it was signed the host takes an event here (the protocol's minute otherwise); members sign theirs again at half that. */
const HOST_MAX_AGE_MS = 24_000;
const SHORTER_MINUTE = { PARACORD_TEST_EVENT_MAX_AGE_MS: String(HOST_MAX_AGE_MS) };

describe('a friend\'s node as a mailbox, the room\'s host away for longer than it takes events', () => {
  it('a message and a join that wait at the mailbox longer than the host accepts (it refuses events signed too long before it takes them) are re-issued and arrive; one taken in time is not', async ({ nodes }) => {
    const { alpha, beta, roomId, closed } = await twoHomesAndAFriend(nodes, true, true, [], SHORTER_MINUTE);
    const bodies = (n: NodeProcess) => queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY depth", roomId).map((r) => r.body);
    // Twin: taken in time, as it was signed.
    const prompt = await send(beta, roomId, 'taken in time');
    await eventually(async () => expect(bodies(alpha)).toContain('taken in time'), 60_000, 100);
    // bob, a second user of beta, is invited; he accepts while the host is away (below).
    expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
    expect((await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/invites`, { user_id: '@bob:beta.test' })).status).toBe(200);
    const bobInvite = await eventually(async () => {
      const list = (await beta.admin('GET', `/invites?user_id=${encodeURIComponent('@bob:beta.test')}`)).body.invites as Array<{ invite_id: string }>;
      expect(list).toHaveLength(1);
      return list[0]!;
    }, 60_000, 100);
    // The host is away for longer than it takes events while beta writes: it waits at carol for alpha.
    expect(await alpha.stop()).toBe(0);
    const sentAt = Date.now();
    const late = await send(beta, roomId, 'written while the host was away');
    expect((await beta.admin('POST', `/invites/${bobInvite.invite_id}/accept`, { user_id: '@bob:beta.test' })).body).toMatchObject({ waiting_for_host: true });
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT event_id FROM mailbox_deposits WHERE event_id = ?', late)).toHaveLength(1), 30_000, 100);
    const signedTs = queryNodeDb<{ origin_ts: number }>(beta.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', late)[0]!.origin_ts;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, sentAt + HOST_MAX_AGE_MS + 2_000 - Date.now())));
    await alpha.start(homeArgs(closed.alpha));
    // alpha took the first copy from carol and refused it as too old; beta saw it taken late,
    // signed it again and sent it again: it arrives, once, under its own id.
    await eventually(async () => expect(bodies(alpha)).toContain('written while the host was away'), 90_000, 250);
    expect(bodies(alpha).filter((b) => b === 'written while the host was away')).toHaveLength(1);
    expect(queryNodeDb<{ origin_ts: number }>(alpha.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', late)[0]!.origin_ts).toBeGreaterThan(signedTs);
    await eventually(async () => expect(beta.stderr).toContain('"event":"mailbox_taken_late"'), 10_000); // (the node's log is written asynchronously)
    // bob's join, taken from carol too late as well (409 depth_too_old, told back through carol),
    // is signed again and sent again by itself: bob is in the room.
    await eventually(async () => {
      const members = (await alpha.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).body.members as Array<{ user_id: string; membership: string }>;
      expect(members.find((m) => m.user_id === '@bob:beta.test')?.membership).toBe('join');
    }, 90_000, 250);
    await eventually(async () => expect(beta.stderr).toContain('"event":"join_resent"'), 10_000); // (the node's log is written asynchronously)
    // Only that one was signed again: the one taken in time is as beta signed it, on both sides.
    expect(beta.stderr.match(/"event":"mailbox_taken_late"/g)).toHaveLength(1);
    const hashOf = (n: NodeProcess, id: string) => queryNodeDb<{ content_hash: string }>(n.dataDir, 'SELECT content_hash FROM federation_events WHERE event_id = ?', id)[0]!.content_hash;
    expect(hashOf(alpha, prompt)).toBe(hashOf(beta, prompt));
    expect(hashOf(alpha, late)).toBe(hashOf(beta, late));
  }, 240_000);

  it('a message nobody took from the mailbox within its week is re-issued and sent again, never forgotten', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes, true, true, [], SHORTER_MINUTE);
    const bodies = (n: NodeProcess) => queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message'", roomId).map((r) => r.body);
    expect(await alpha.stop()).toBe(0);
    const write = (dir: string, sql: string, ...params: unknown[]) => {
      const db = new Database(join(dir, 'paracord.db'));
      try {
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    };
    const deposited = async (eventId: string) => await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits WHERE event_id = ?', eventId)).toHaveLength(1), 30_000, 100);
    const signedAt = (eventId: string) => queryNodeDb<{ origin_ts: number }>(beta.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', eventId)[0]!.origin_ts;
    // Twin: a deposit past the week that beta never saw held once it was too old for the host (our
    // checks could have failed while the host took it in time, or carol dropped it): not signed
    // again (a copy signed again would be refused as a conflict and shown failed), but sent again
    // as it is — here left at carol again — never forgotten as delivered (a helper's audit, 2026-11-28).
    const maybeTaken = await send(beta, roomId, 'maybe taken in time');
    await deposited(maybeTaken);
    const firstDeposit = queryNodeDb<{ deposit_id: number }>(beta.dataDir, 'SELECT deposit_id FROM mailbox_deposits WHERE event_id = ?', maybeTaken)[0]!.deposit_id;
    write(beta.dataDir, 'UPDATE mailbox_deposits SET deposited_at = deposited_at - ? WHERE event_id = ?', 8 * 86_400_000, maybeTaken);
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits WHERE event_id = ? AND deposit_id <> ?', maybeTaken, firstDeposit)).toHaveLength(1), 30_000, 100);
    expect(beta.stderr).not.toContain(`"event":"mailbox_taken_late","destination":"alpha.test","event_id":"${maybeTaken}"`);
    const left = await send(beta, roomId, 'left for a week');
    await deposited(left);
    const depositId = queryNodeDb<{ deposit_id: number }>(beta.dataDir, 'SELECT deposit_id FROM mailbox_deposits WHERE event_id = ?', left)[0]!.deposit_id;
    // beta sees carol still holding it once it is too old for the host (over half its limit): not taken in time.
    const signedTs = signedAt(left);
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits_held WHERE deposit_id = ? AND seen_at > ?', depositId, signedTs + HOST_MAX_AGE_MS / 2 + 1_000)).toHaveLength(1), 60_000, 250);
    // A week passes with the host away: beta's deposit dates from 8 days ago (written beside the
    // running node, as the clock would), and then carol, which keeps things a week, holds it no more.
    write(beta.dataDir, 'UPDATE mailbox_deposits SET deposited_at = deposited_at - ? WHERE event_id = ?', 8 * 86_400_000, left);
    // beta sees its deposit past the week: signed again, left at carol again.
    await eventually(async () => expect(beta.stderr).toContain(`"event":"mailbox_taken_late","destination":"alpha.test","event_id":"${left}"`), 30_000, 100);
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM mailbox_deposits WHERE event_id = ? AND deposit_id <> ?', left, depositId)).toHaveLength(1), 30_000, 100);
    write(carol.dataDir, 'DELETE FROM mailbox_items WHERE id = ?', depositId);
    // The host comes back: the message arrives, once.
    await alpha.start(homeArgs(closed.alpha));
    await eventually(async () => expect(bodies(alpha)).toContain('left for a week'), 90_000, 250);
    expect(queryNodeDb<{ origin_ts: number }>(alpha.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', left)[0]!.origin_ts).toBeGreaterThan(signedTs);
    // The twin arrives too (the host, which never had it, refused it as too old: re-issued).
    await eventually(async () => expect(bodies(alpha)).toContain('maybe taken in time'), 90_000, 250);
    expect(bodies(alpha).filter((b) => b === 'maybe taken in time')).toHaveLength(1);
    // Shown to its sender as delivered, nothing waiting or failed.
    for (const id of [left, maybeTaken]) await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM federation_outbox WHERE event_id = ? UNION ALL SELECT 1 FROM mailbox_deposits WHERE event_id = ?', id, id)).toHaveLength(0), 60_000, 250);
    // Settled when it was queued again (nothing left to tell the rooms at the next start). A note
    // may still be on its way for a moment: on a loaded machine (CI, 2026-11-29) one was left when
    // the line above passed — most likely the re-issued twin, seen held at carol past half the
    // host's limit before alpha fetched it, so taken "late" although alpha took it (the rule's
    // margin); its note is told and settled at beta's next check, and the copy signed again that
    // alpha answers 409 event_id_conflict counts as delivered (delivery-outcomes.ts): still
    // nothing waiting or failed.
    await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT event_id FROM mailbox_taken_late')).toEqual([]), 60_000, 250);
    for (const id of [left, maybeTaken]) await eventually(async () => expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM federation_outbox WHERE event_id = ? UNION ALL SELECT 1 FROM mailbox_deposits WHERE event_id = ?', id, id)).toHaveLength(0), 60_000, 250);
    expect(bodies(alpha).filter((b) => b === 'maybe taken in time')).toHaveLength(1);
    expect(bodies(alpha).filter((b) => b === 'left for a week')).toHaveLength(1);
  }, 240_000);
});
