/**
 * What a held event (the quarantine review, Peers) did, in words: its text for a message, "reacted
 * 👍", "joined the room"… (the review showed internal types such as "m.reaction.add", and an edit
 * looked like a new message: a helper's UI check). Pure: held-words.test.ts.
 */
import type { HeldEvent } from '../../../shared/contract/admin/quarantine.ts';

const DONE: Readonly<Record<string, string>> = {
  'm.message.delete': 'deleted a message',
  'm.reaction.remove': 'took back a reaction',
  'm.member.invite': 'invited someone',
  'm.member.join': 'joined the room',
  // (A moderator's removal is a leave too: its subject is not given here.)
  'm.member.leave': 'left the room, or removed someone',
  'm.member.ban': 'banned someone',
  'm.member.unban': 'let someone back in',
  'm.room.role': 'changed someone\'s role',
};

export function heldWords(event: Pick<HeldEvent, 'event_type' | 'body' | 'key'>): string {
  if (event.event_type === 'm.message') return event.body ?? 'a message';
  if (event.event_type === 'm.message.edit') return event.body === undefined ? 'edited a message' : `edited a message: ${event.body}`;
  if (event.event_type === 'm.reaction.add') return event.key === undefined ? 'reacted' : `reacted ${event.key}`;
  return DONE[event.event_type] ?? 'sent something this node does not show';
}
