/**
 * A member's unsent text per room (issue #34 item 5): kept in this browser's storage while it is
 * typed, so a failed send, going offline or a reload does not lose it; gone once the node took the
 * message, and all of a member's drafts at sign-out (a shared device). Tested in drafts.test.ts.
 */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  readonly length: number;
  key(index: number): string | null;
}

const PREFIX = 'paracord.draft:';
const keyOf = (userId: string, roomId: string) => `${PREFIX}${userId}\n${roomId}`;

export function loadDraft(storage: DraftStorage | undefined, userId: string, roomId: string): string {
  try {
    return storage?.getItem(keyOf(userId, roomId)) ?? '';
  } catch {
    return ''; // storage refused (private mode, quota): the draft lives only on screen
  }
}

/** Keeps `text` for the room; an empty (or blank) text removes the draft. */
export function saveDraft(storage: DraftStorage | undefined, userId: string, roomId: string, text: string): void {
  try {
    if (text.trim()) storage?.setItem(keyOf(userId, roomId), text);
    else storage?.removeItem(keyOf(userId, roomId));
  } catch {
    // storage refused or full: the draft still stays on screen
  }
}

/** Every kept draft of this browser (sign-out). */
export function clearDrafts(storage: DraftStorage | undefined): void {
  clearPrefixed(storage, PREFIX);
}

/** Every key of `storage` that starts with `prefix` (also unsent-kept.ts's). */
export function clearPrefixed(storage: DraftStorage | undefined, prefix: string): void {
  if (!storage) return;
  try {
    const keys: string[] = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    for (const key of keys) storage.removeItem(key);
  } catch {
    // nothing to clear where storage is refused
  }
}
