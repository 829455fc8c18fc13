/**
 * A mailbox serves nothing to a recipient its owner quarantined (as pull serves nothing: docs/
 * PROTOCOL.md §Rate limits and trust), and takes no new mail for it: what other servers left for
 * it before stays at the mailbox until the quarantine ends, then arrives.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, send } from './helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

describe('a friend\'s node as a mailbox, its recipient quarantined there', () => {
  it('keeps what others left for it while it is quarantined, and hands it over once the quarantine ends', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    const bodies = () => queryNodeDb<{ body: string }>(beta.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message'", roomId).map((r) => r.body);
    const held = () => queryNodeDb<{ n: number }>(carol.dataDir, "SELECT COUNT(*) AS n FROM mailbox_items WHERE recipient = 'beta.test'")[0]!.n;
    const lastFetch = () => queryNodeDb<{ at: number }>(carol.dataDir, "SELECT last_fetch_at AS at FROM mailbox_clients WHERE server_name = 'beta.test'")[0]?.at ?? 0;
    // The twin: before the quarantine, a message reaches beta through carol.
    await send(alpha, roomId, 'before');
    await eventually(async () => expect(bodies()).toContain('before'), 60_000, 100);
    // Acknowledged at carol (an ack still waiting when beta stops is sent at its next start: carol would hold it meanwhile).
    await eventually(async () => expect(held()).toBe(0), 30_000, 100);
    // beta is away while alpha writes: the message waits at carol; then carol's owner quarantines beta
    // (carol takes no new mail for it from then on: only what waits already is at stake).
    expect(await beta.stop()).toBe(0);
    await send(alpha, roomId, 'while quarantined');
    await eventually(async () => expect(held()).toBe(1), 60_000, 100);
    expect((await carol.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    // beta fetches from carol again and gets nothing. (carol notes a fetch at most every 5 s: beta
    // comes back once its last noted fetch is that old, so that its first fetch is noted.)
    const fetchedBefore = lastFetch();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, fetchedBefore + 5_100 - Date.now())));
    await beta.start(homeArgs(closed.beta));
    await eventually(async () => expect(lastFetch()).toBeGreaterThan(fetchedBefore), 30_000, 250);
    // (Handed over, it would be stored within a second: beta and carol are on this machine.)
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(bodies()).not.toContain('while quarantined');
    expect(held()).toBe(1);
    // The quarantine ends: the message is handed over (the fetch waiting at carol is answered at once).
    expect((await carol.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
    await eventually(async () => expect(bodies()).toContain('while quarantined'), 60_000, 100);
  }, 180_000);
});
