import { describe, expect, it } from 'vitest';
import { NO_PEER_CAN_TEST, NO_PEER_YET, lastTestedWords } from './reachability-words.ts';

describe('when the node was last tested, in words', () => {
  it('says "tested" only when a friend ran the test; asked with no friend to run it is "tried"', () => {
    expect(lastTestedWords({ checked_at: 1, reachable: true, via: 'beta.test' }, 'just now')).toBe('Last tested just now by beta.test.');
    expect(lastTestedWords({ checked_at: 1, reachable: false, via: null }, '3 min ago')).toBe('Last tested 3 min ago.');
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null }, 'just now')).toBe('Last tried just now: no friend could run the test.');
    expect(lastTestedWords({ checked_at: null, reachable: null, via: null }, 'never')).toBe('');
    // No friend at all: nothing beside "will be tested once the first peer is added".
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null, error: `${NO_PEER_YET}: …` }, 'just now')).toBe('');
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null, error: `${NO_PEER_CAN_TEST}: …` }, 'just now')).toBe('Last tried just now: no friend could run the test.');
  });
});
