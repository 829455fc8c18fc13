import { EVENTS_PATH, EVENT_PATH, JOIN_ANSWER_PATH, JOIN_PATH, PEERING_ANSWER_PATH, PEERING_PATH } from '../federation/paths.ts';
/** The mailbox extension on the wire (docs/PROTOCOL.md "Mailboxes"): paths, headers, limits. */

export const MAX_HELD_IDS = 500;
export const MAX_MAILBOX_ITEMS = 100;

/** The carried request's own signature (its origin is the depositor; its destination the recipient). */
export const INNER_KEY_ID = 'X-Paracord-Inner-Key-Id';
export const INNER_TIMESTAMP = 'X-Paracord-Inner-Timestamp';
export const INNER_SIGNATURE = 'X-Paracord-Inner-Signature';

/**
 * What a mailbox carries: event pushes (one or a batch; invites travel as their signed event), a
 * join to a room's host, and the host's answer to it (the room's snapshot), which comes back the
 * same way because a join through a mailbox gets no answer of its own; likewise a peering request
 * (a friend's link redeemed while its node cannot be reached) and the inviter's answer to it.
 */
export const CARRIED_PATHS: Readonly<Record<string, string>> = Object.freeze({
  event: EVENT_PATH, events: EVENTS_PATH, join: JOIN_PATH, 'join-answer': JOIN_ANSWER_PATH, peering: PEERING_PATH, 'peering-answer': PEERING_ANSWER_PATH,
});
export type CarriedKind = 'event' | 'events' | 'join' | 'join-answer' | 'peering' | 'peering-answer';
export const kindOfPath = (path: string): CarriedKind | null => (Object.entries(CARRIED_PATHS).find(([, p]) => p === path)?.[0] as CarriedKind | undefined) ?? null;

/**
 * The item id a mailbox's deposit answer gives (digits, as its fetch gives them), or null: a
 * deposit counts as left there only with it (nothing could ask after one without it).
 */
export function depositIdOf(response: { json: unknown } | undefined): number | null {
  const id = (response?.json as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && /^[0-9]{1,15}$/.test(id) ? Number(id) : null;
}

/**
 * Notes a recipient keeps beside its refusals (mailbox_refusals_out, under the item's id), named in
 * its acks' lists (capability `mailbox_waiting`), never as refusals: `waiting`, an item it took but
 * keeps to take later (carried-retries.ts); `settled`, one of those it is done with (taken, refused,
 * given up). Their event ids are no event's (an id from a hostile body that matches one collides
 * only with notes of that body's own item), and sort around an item's refusals (`$…`): an ack cut
 * inside one item's rows (upTo) names its waiting note first and its settled note last, so the
 * mailbox never lets an item go before every refusal of it was named.
 */
export const WAITING_NOTE = Object.freeze({ event_id: '#waiting', status: 202, error: 'waiting' });
export const SETTLED_NOTE = Object.freeze({ event_id: '~settled', status: 200, error: 'settled' });
export const isListNote = (note: { event_id: string; status: number; error: string }): 'waiting' | 'settled' | null =>
  note.status === WAITING_NOTE.status && note.error === WAITING_NOTE.error && note.event_id === WAITING_NOTE.event_id ? 'waiting'
  : note.status === SETTLED_NOTE.status && note.error === SETTLED_NOTE.error && note.event_id === SETTLED_NOTE.event_id ? 'settled'
  : null;
