import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memory-storage.ts';
import type { DraftStorage } from './drafts.ts';
import { clearKept, loadKept, RESEND_WITHIN_MS, saveKept, tooOldToResend } from './unsent-kept.ts';

const one = { room: '!a:h', txn: 'ab12', body: 'hello', createdAt: 1_000, maybeStored: false };

describe('unsent messages kept by the tab', () => {
  it('keeps them per user, with their txn_id, and forgets a user with none', () => {
    const storage = memoryStorage();
    saveKept(storage, '@ann:h', [one]);
    expect(loadKept(storage, '@ann:h')).toEqual([one]);
    // Another account on the same page never gets them.
    expect(loadKept(storage, '@bob:h')).toEqual([]);
    saveKept(storage, '@ann:h', []);
    expect(storage.map.size).toBe(0);
  });

  it('reads nothing from a broken or foreign value, and a refusing storage throws nothing', () => {
    const storage = memoryStorage();
    storage.setItem('paracord.unsent:@ann:h', '{not json');
    expect(loadKept(storage, '@ann:h')).toEqual([]);
    storage.setItem('paracord.unsent:@ann:h', JSON.stringify([one, { room: 1 }, null, { ...one, keptInBox: 'yes' }, { ...one, txn: 'cd34', keptInBox: true }]));
    expect(loadKept(storage, '@ann:h')).toEqual([one, { ...one, txn: 'cd34', keptInBox: true }]);
    const refusing: DraftStorage = { getItem: () => { throw new Error('x'); }, setItem: () => { throw new Error('x'); }, removeItem: () => { throw new Error('x'); }, length: 0, key: () => null };
    expect(() => saveKept(refusing, '@ann:h', [one])).not.toThrow();
    expect(loadKept(refusing, '@ann:h')).toEqual([]);
  });

  it('forgets every user\'s at sign-out, nothing else', () => {
    const storage = memoryStorage();
    storage.setItem('theme', 'dark');
    saveKept(storage, '@ann:h', [one]);
    saveKept(storage, '@bob:h', [one]);
    clearKept(storage);
    expect([...storage.map.keys()]).toEqual(['theme']);
  });

  it('is not sent again by itself once the node may have forgotten its txn_id (a day; an hour to spare)', () => {
    expect(RESEND_WITHIN_MS).toBeLessThan(24 * 3600_000);
    expect(tooOldToResend(0, RESEND_WITHIN_MS - 1)).toBe(false);
    expect(tooOldToResend(0, RESEND_WITHIN_MS)).toBe(true);
  });
});
