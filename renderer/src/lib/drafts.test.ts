import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memory-storage.ts';
import { clearDrafts, loadDraft, saveDraft, type DraftStorage } from './drafts.ts';

describe('drafts (issue #34 item 5)', () => {
  it('keeps the unsent text per member and room, across a reload (a new read of the storage)', () => {
    const storage = memoryStorage();
    saveDraft(storage, '@ann:h', '!a:h', 'hello there');
    saveDraft(storage, '@ann:h', '!b:h', 'other room');
    expect(loadDraft(storage, '@ann:h', '!a:h')).toBe('hello there');
    expect(loadDraft(storage, '@ann:h', '!b:h')).toBe('other room');
    expect(loadDraft(storage, '@bob:h', '!a:h')).toBe('');
    // Sent (the text is gone from the box): the draft is gone.
    saveDraft(storage, '@ann:h', '!a:h', '  ');
    expect(loadDraft(storage, '@ann:h', '!a:h')).toBe('');
  });

  it('forgets every draft at sign-out, nothing else', () => {
    const storage = memoryStorage();
    storage.setItem('theme', 'dark');
    saveDraft(storage, '@ann:h', '!a:h', 'one');
    saveDraft(storage, '@bob:h', '!a:h', 'two');
    clearDrafts(storage);
    expect([...storage.map.keys()]).toEqual(['theme']);
  });

  it('a storage that refuses (private mode, full) loses nothing on screen and throws nothing', () => {
    const refusing: DraftStorage = {
      getItem: () => { throw new Error('denied'); },
      setItem: () => { throw new Error('quota'); },
      removeItem: () => { throw new Error('denied'); },
      length: 0,
      key: () => null,
    };
    expect(() => saveDraft(refusing, '@ann:h', '!a:h', 'x')).not.toThrow();
    expect(loadDraft(refusing, '@ann:h', '!a:h')).toBe('');
    expect(loadDraft(undefined, '@ann:h', '!a:h')).toBe('');
  });
});
