import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { isOfflineFailure, offlineWords } from './offline.ts';

describe('offline (issue #34 item 5)', () => {
  it('is a request without any answer, or a browser without a network', () => {
    expect(isOfflineFailure(new TypeError('Failed to fetch'), true)).toBe(true);
    expect(isOfflineFailure(new Error('anything'), false)).toBe(true);
    expect(isOfflineFailure(new Error('anything'), true)).toBe(false);
    // The node answered (even with an error): it is there.
    expect(isOfflineFailure(new AdminError(500, 'internal_error', 'x'), false)).toBe(false);
    expect(isOfflineFailure(new AdminError(401, 'not_signed_in', 'x'), true)).toBe(false);
  });

  it('says so in words, and that the message waits', () => {
    expect(offlineWords(false).title).toBe('You are offline — messages you send now go out when you are back.');
    // A network, but no answer: not "offline".
    expect(offlineWords(true).title).toBe('The server does not answer — messages you send now go out when it is back.');
    expect(offlineWords(true).detail).toMatch(/server may be down/);
  });
});
