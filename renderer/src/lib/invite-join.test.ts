import { describe, expect, it } from 'vitest';
import { inviteJoinLine } from './invite-join.ts';

describe('inviteJoinLine: where the join sent for an invite stands', () => {
  const now = 10_000_000;
  const host = 'alpha.test';
  it('says nothing before the user accepts', () => {
    expect(inviteJoinLine({ host_server: host }, now)).toBeNull();
  });

  it('names the mailbox a join waits at while the host is away, and that the room comes with the answer', () => {
    expect(inviteJoinLine({ host_server: host, join: { state: 'waiting', since: now - 120_000, mailbox: 'carol.test' } }, now)).toEqual({
      text: 'You accepted 2 min ago. alpha.test is away: your join was left at carol.test for it, with no answer yet. The room appears when it answers.', details: '',
    });
  });

  it('never says a join sent without an answer waits somewhere: it says how to ask again', () => {
    const line = inviteJoinLine({ host_server: host, join: { state: 'unanswered', since: now - 30_000 } }, now)!;
    expect(line.text).toBe('You accepted 30 s ago, but alpha.test has not let you in yet (it was not reached, asked you to wait, or its answer was lost). Accept again to ask again.');
    expect(line.text).not.toMatch(/waiting/);
  });

  it('gives a refusal its reason in words, the host\'s own text only behind details', () => {
    expect(inviteJoinLine({ host_server: host, join: { state: 'refused', since: now, error: 'origin_quarantined', message: 'alpha.test refused (origin_quarantined): beta.test is quarantined' } }, now)).toEqual({
      text: 'alpha.test refused to let you join: The other server has put yours on hold for review: try again once its owner ends that.',
      details: 'alpha.test refused (origin_quarantined): beta.test is quarantined',
    });
    expect(inviteJoinLine({ host_server: host, join: { state: 'refused', since: now, error: 'invite_expired', message: 'x' } }, now)!.text).toBe('alpha.test refused to let you join: This invitation has expired. Ask for a new one.');
    // An answer that could not be read is no refusal.
    expect(inviteJoinLine({ host_server: host, join: { state: 'refused', since: now, error: 'bad_snapshot', message: 'no room' } }, now)).toEqual({ text: 'alpha.test answered, but its answer could not be read. Accept again to ask again.', details: 'no room' });
    // Words that elsewhere speak of somebody else say "you" here.
    expect(inviteJoinLine({ host_server: host, join: { state: 'refused', since: now, error: 'banned', message: 'x' } }, now)!.text).toBe('alpha.test refused to let you join: You are banned from this room.');
    // A code of the host's that is not ours is peer_refused (main/core/federation/peer-refusal.ts): no reason made up.
    const other = inviteJoinLine({ host_server: host, join: { state: 'refused', since: now, error: 'peer_refused', message: 'alpha.test refused (weird_code): <b>hi</b>' } }, now)!;
    expect(other).toEqual({ text: 'alpha.test refused to let you join.', details: 'alpha.test refused (weird_code): <b>hi</b>' });
  });
});
