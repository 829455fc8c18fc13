/**
 * A friend's mailbox answers for itself, not for the server it keeps mail for (issue #32; note 64):
 * alpha's message for beta (nobody reaches beta) is left at carol, which is paused. Its queue entry
 * waits and says carol answered; nothing reads it as beta's own answer (it never saw the request),
 * and once carol resumes the message arrives. (The same class, a mailbox refusing with 400, 409 or
 * 413, made the entry fail as "refused by beta": delivery-outcomes.test.ts. A lone event a mailbox
 * refuses as too large fails alone, in the mailbox's words: mailbox-too-large.test.ts.)
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, send } from './helpers/rooms.ts';
import { twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

describe('a mailbox\'s own answer', () => {
  it('a paused mailbox: the entry waits, its error names the mailbox (not beta), and the message arrives once the mailbox resumes', async ({ nodes }) => {
    const { alpha, beta, carol, roomId } = await twoHomesAndAFriend(nodes);
    // One through carol first: alpha knows carol keeps beta's mail (it asks again once a minute).
    const first = await send(alpha, roomId, 'through the mailbox');
    await eventually(async () => expect(queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', first)[0]!.n).toBe(1), 60_000, 100);
    expect((await carol.admin('POST', '/federation/pause', {})).status).toBe(200);
    const eventId = await send(alpha, roomId, 'through a paused mailbox');
    const entry = await eventually(async () => {
      const entries = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string; state: string; last_error: string | null }>;
      const found = entries.find((e) => e.event_id === eventId);
      expect(found?.last_error ?? '').toMatch(/^the mailbox at carol\.test answered HTTP 503 federation_paused\b/);
      return found!;
    }, 60_000, 100);
    expect(entry.state).toBe('pending');
    const peer = ((await alpha.admin('GET', '/peers')).body.peers as Array<{ server_name: string; delivery: { last_error: string | null } }>).find((p) => p.server_name === 'beta.test')!;
    expect(peer.delivery.last_error ?? '').not.toMatch(/^HTTP /);
    expect((await carol.admin('POST', '/federation/resume', {})).status).toBe(200);
    // The paused mailbox asked for a while (Retry-After): alpha waits at most its longest back-off (2 s here).
    await eventually(async () => expect(queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', eventId)[0]!.n).toBe(1), 60_000, 100);
  }, 120_000);
});
