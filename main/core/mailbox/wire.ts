/** The mailbox extension on the wire (docs/PROTOCOL.md "Mailboxes"): paths, headers, limits. */
import { BATCH_PATH, EVENT_PATH } from '../outbox/delivery-worker.ts';

export const MAILBOX_CAPABILITY = 'mailbox';
export const MAILBOX_PATH = '/_paracord/federation/v1/mailbox';
export const MAILBOX_ACK_PATH = '/_paracord/federation/v1/mailbox/ack';
export const MAILBOX_DEPOSIT_PATH = '/_paracord/federation/v1/mailbox/deposit';
export const MAILBOX_ACCEPTS_PATH = '/_paracord/federation/v1/mailbox/accepts';
export const MAX_MAILBOX_ITEMS = 100;

/** The carried request's own signature (its origin is the depositor; its destination the recipient). */
export const INNER_KEY_ID = 'X-Paracord-Inner-Key-Id';
export const INNER_TIMESTAMP = 'X-Paracord-Inner-Timestamp';
export const INNER_SIGNATURE = 'X-Paracord-Inner-Signature';

/** What a mailbox carries: the requests that need no answer (event pushes, one or a batch). */
export const CARRIED_PATHS: Readonly<Record<string, string>> = Object.freeze({ event: EVENT_PATH, events: BATCH_PATH });
export type CarriedKind = 'event' | 'events';
export const kindOfPath = (path: string): CarriedKind | null => (path === EVENT_PATH ? 'event' : path === BATCH_PATH ? 'events' : null);
