import { describe, expect, it } from 'vitest';
import type { RoomSummary } from '../../../shared/contract/admin-operations.ts';
import { mentionTitleFor, titleFor } from './attention.ts';

const room = (fields: Partial<RoomSummary>) => ({ room_id: '!r:h', name: 'r', membership: 'join', unread: 0, mentions: 0, ...fields }) as RoomSummary;

describe('window title', () => {
  it("a member's counts the unread mentions of joined rooms: (2) Paracord", () => {
    expect(mentionTitleFor([])).toBe('Paracord');
    expect(mentionTitleFor([room({ unread: 5 })])).toBe('Paracord');
    expect(mentionTitleFor([room({ unread: 5, mentions: 1 }), room({ room_id: '!s:h', unread: 1, mentions: 1 })])).toBe('(2) Paracord');
    expect(mentionTitleFor([room({ membership: 'invite', mentions: 3 })])).toBe('Paracord');
    expect(mentionTitleFor([room({ mentions: 1200 })])).toBe('(999+) Paracord');
  });

  it("the owner's is as before (unread, then mentions)", () => {
    expect(titleFor([room({ unread: 5, mentions: 2 })])).toBe('(5 · @2) Paracord');
    expect(titleFor([room({ unread: 0 })])).toBe('Paracord');
  });
});
