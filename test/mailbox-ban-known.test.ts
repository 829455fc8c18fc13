/**
 * A ban left at a friend's mailbox never counts as known to the banned user's server on the
 * mailbox's word (note 65; the red team, 2026-11-28): auto-quarantine counts a banned user's events
 * only once the ban reached its server (rooms/room-bans.ts known_at), and only that server's own
 * answer proves it did — a mailbox could drop the ban and say it is gone. Here beta is away while
 * alpha bans beta's user: the ban waits at carol, beta fetches it, and it is still not known.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually } from './helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

describe('a ban that waits at a mailbox', () => {
  it('is not known to the banned user\'s server when the mailbox took it, nor when the mailbox says it is gone', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    const knownAt = () => queryNodeDb<{ known_at: number | null }>(alpha.dataDir, "SELECT known_at FROM room_bans WHERE room_id = ? AND user_id = '@owner:beta.test' AND banned = 1", roomId)[0]?.known_at;
    const heldForBeta = () => queryNodeDb<{ n: number }>(carol.dataDir, "SELECT COUNT(*) AS n FROM mailbox_items WHERE recipient = 'beta.test'")[0]!.n;
    const waitingAtCarol = (eventId: string) => queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM mailbox_deposits WHERE destination = 'beta.test' AND event_id = ?", eventId)[0]!.n;
    expect(await beta.stop()).toBe(0);
    const banned = await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent('@owner:beta.test')}/remove`, { ban: true, reason: 'test' });
    expect(banned.status, JSON.stringify(banned.body)).toBe(200);
    const ban = banned.body.event_id as string;
    // Left at carol (alpha cannot reach beta), and asked about every second: not known while it waits there.
    await eventually(async () => expect(waitingAtCarol(ban)).toBe(1), 60_000, 100);
    expect(heldForBeta()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(knownAt()).toBeNull();
    // beta comes back and fetches it; alpha's next check finds it gone from carol: carol's word only.
    await beta.start(homeArgs(closed.beta));
    await eventually(async () => expect(waitingAtCarol(ban)).toBe(0), 60_000, 100);
    expect(knownAt()).toBeNull();
  }, 180_000);
});
