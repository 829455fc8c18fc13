import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { isOfflineFailure, offlineWords, unsentWords } from './offline.ts';

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
    // Only messages wait, and only while the page is open.
    for (const online of [true, false]) expect(offlineWords(online).detail).toMatch(/while this page stays open; edits and reactions are not kept/);
  });

  it('under an unsent message, blames the connection only without a network', () => {
    expect(unsentWords('failed', false)).toBe('Not sent yet: there is no connection. It is sent by itself when you are back (never twice).');
    expect(unsentWords('failed', true)).toBe('Not sent yet: the server does not answer. It is sent by itself when the server answers again (never twice).');
    expect(unsentWords('unknown', true)).toMatch(/^Maybe not sent: .* when the server answers again/);
    expect(unsentWords('unknown', false)).toMatch(/when you are back/);
  });
});
