/**
 * What a held event (the quarantine review, Peers) did, in words: its text for a message, "reacted
 * 👍", "joined the room", "removed @bob:b.test"… (the review showed internal types such as
 * "m.reaction.add", and an edit looked like a new message: a helper's UI check). The user an event
 * is about (`subject`, its state_key) is returned apart, for the page to show as a peer-chosen name
 * (components/Name.svelte). Pure: held-words.test.ts.
 */
import type { HeldEvent } from '../../../shared/contract/admin/quarantine.ts';
import { ownValue } from '../../../shared/own-value.ts';
import { visible } from './display.ts';

export interface HeldWords {
  words: string;
  /** The user the event is about, shown after `words` as a name. */
  subject?: string;
  /** Words after the subject ("'s role", "back in"). */
  after?: string;
}

const DONE: Readonly<Record<string, string>> = {
  'm.message.delete': 'deleted a message',
  'm.reaction.remove': 'took back a reaction',
  'm.member.join': 'joined the room',
};

/** Events about one user: the words before and after that user's name, and without one. */
const ABOUT: Readonly<Record<string, { words: string; after?: string; alone: string }>> = {
  'm.member.invite': { words: 'invited', alone: 'invited someone' },
  'm.member.leave': { words: 'removed', alone: 'left the room, or removed someone' },
  'm.member.ban': { words: 'banned', alone: 'banned someone' },
  'm.member.unban': { words: 'let', after: ' back in', alone: 'let someone back in' },
  'm.room.role': { words: 'changed the role of', alone: 'changed someone\'s role' },
};

export function heldWords(event: Pick<HeldEvent, 'event_type' | 'body' | 'key' | 'sender' | 'subject'>): HeldWords {
  if (event.event_type === 'm.message') return { words: event.body ?? 'a message' };
  if (event.event_type === 'm.message.edit') return { words: event.body === undefined ? 'edited a message' : `edited a message: ${event.body}` };
  // A reaction key is shown as every key is (display.ts visible: hidden characters written out, stacks of marks cut).
  if (event.event_type === 'm.reaction.add') return { words: event.key === undefined ? 'reacted' : `reacted ${visible(event.key)}` };
  const about = ownValue(ABOUT, event.event_type);
  if (about) {
    if (event.event_type === 'm.member.leave' && event.subject === event.sender) return { words: 'left the room' };
    if (event.subject === undefined) return { words: about.alone };
    return { words: about.words, subject: event.subject, ...(about.after ? { after: about.after } : {}) };
  }
  return { words: ownValue(DONE, event.event_type) ?? 'sent something this node does not show' };
}
