import { describe, expect, it } from 'vitest';
import { failedEntryWords } from './failed-entry.ts';

describe('failedEntryWords', () => {
  it('says a friend refused it only when it answered so; what this node did not send is said as ours', () => {
    expect(failedEntryWords('bob.test', 'HTTP 403 origin_blocked: alpha.test is blocked', '2 min ago')).toEqual({ lead: 'bob.test refused something you sent 2 min ago:', cause: 'The other server blocks yours.' });
    expect(failedEntryWords('ref.test', 'not carried to ref.test: the message text is 9000 bytes, and a Paracord reference 3.x drops messages over 2000 bytes', 'just now'))
      .toEqual({ lead: 'Not sent to ref.test just now:', cause: 'the message text is 9000 bytes, and a Paracord reference 3.x drops messages over 2000 bytes.' });
    expect(failedEntryWords('bob.test', 'event no longer stored', 'just now')).toEqual({ lead: 'Not sent to bob.test just now:', cause: 'it is no longer stored on this node.' });
    // Not taken by the mailbox it was left at: not the friend's refusal.
    expect(failedEntryWords('bob.test', 'the mailbox at carol.test answered HTTP 413', 'just now')).toEqual({ lead: 'Not sent to bob.test just now:', cause: 'The mailbox at carol.test refused it as too large.' });
    // Given up unchecked there: not judged, so not "refused".
    expect(failedEntryWords('bob.test', 'HTTP 403 unchecked_given_up', 'just now'))
      .toEqual({ lead: 'bob.test could not check something you sent just now:', cause: 'The other server could not check it: for hours it could not read the keys it was signed with, so it gave up on it.' });
  });
});
