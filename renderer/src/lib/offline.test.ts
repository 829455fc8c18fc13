import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { isOfflineFailure, offlineWords, signedOutUnsentWords, tooOldWords, unsentWords } from './offline.ts';

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
    // Only messages wait, in this tab (other rooms and pages, a reload), not once it is closed.
    for (const online of [true, false]) expect(offlineWords(online).detail).toMatch(/Messages wait in this tab, also while you open other rooms or reload it, not if you close it; edits and reactions are not kept/);
  });

  it('under an unsent message, blames the connection only without a network', () => {
    expect(unsentWords('failed', false)).toBe('Not sent yet: there is no connection. It is sent by itself when you are back (never twice).');
    expect(unsentWords('failed', true)).toBe('Not sent yet: the server does not answer. It is sent by itself when the server answers again (never twice).');
    expect(unsentWords('unknown', true)).toMatch(/^Maybe not sent: .* when the server answers again/);
    expect(unsentWords('unknown', false)).toMatch(/when you are back/);
  });

  it('says what happened to waiting messages once signed out, and of one too old to be sent by itself', () => {
    expect(signedOutUnsentWords(1, true)).toBe('A message you wrote was not sent. It is kept in this tab: sign in again in this tab within a day of writing it, and it is sent by itself (never twice).');
    expect(signedOutUnsentWords(2, false)).toBe('2 messages you wrote were not sent. They are kept in this tab: open a new login link in this tab within a day of writing them, and they are sent by themselves (never twice).');
    expect(tooOldWords(false)).toMatch(/^Not sent, and written over a day ago/);
    expect(tooOldWords(true)).toMatch(/^Maybe not sent.*If it is not in the room above, send it again/);
  });
});
