/**
 * What an outbox tells as read by its destination (`onRead`, which records when a banned
 * user's server got the ban: rooms/room-bans.ts): what it acknowledged, and what its own answer
 * refused for good. A server that answered the ban 400 kept sending its banned user's events
 * without any counting against it (a helper's review, 2026-11-28). Not what never reached it: our
 * own refusal to carry (status null) or a retry.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Outbox } from './outbox.ts';

describe('Outbox onRead', () => {
  it('names the rows the destination acknowledged or refused by its answer, not those it never read', ({ tempDb }) => {
    const told: string[] = [];
    const heldThere: string[] = [];
    const outbox = new Outbox(tempDb.db, { onRead: (_destination, rows, held) => (held ? heldThere : told).push(...rows.map((r) => r.event_id)) });
    const rows = ['$taken', '$refused', '$ours', '$later', '$proxy', '$deposited', '$heldThere'].map((id, i) => outbox.enqueue('beta.test', id, '!r:alpha.test', i)!);
    outbox.settle('beta.test', [
      { row: rows[0]!, outcome: { kind: 'delivered', status: 200 } },
      { row: rows[1]!, outcome: { kind: 'failed', status: 400, error: 'HTTP 400 invalid_event: no', byDestination: true } },
      // A proxy's error page in front of it: not its node's answer.
      { row: rows[4]!, outcome: { kind: 'failed', status: 404, error: 'HTTP 404' } },
      { row: rows[2]!, outcome: { kind: 'failed', status: null, error: 'not carried' } },
      { row: rows[3]!, outcome: { kind: 'retry', status: 503, error: 'HTTP 503', nextAttemptAt: 10 } },
      // Taken by a friend's mailbox: read when the destination fetches it (mailbox/deposits.ts onTaken).
      { row: rows[5]!, outcome: { kind: 'delivered', status: 200, atMailbox: true } },
      // Held there for review (it keeps us in quarantine): kept aside, not applied; a ban it holds is no ban it knows (yet: told as held).
      { row: rows[6]!, outcome: { kind: 'delivered', status: 202, heldThere: true } },
    ], 1, 5);
    expect(told).toEqual(['$taken', '$refused']);
    expect(heldThere).toEqual(['$heldThere']);
  });
});
