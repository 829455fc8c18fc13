/**
 * The outbox: events waiting for their destinations, and delivery attempts.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { wholeNumber } from '../whole-number.ts';
import { serverNameSchema } from './schemas.ts';

export const queueOperations = {
  getQueue: {
    method: 'GET',
    path: '/queue',
    input: z.strictObject({
      state: z.enum(['pending', 'failed', 'expired']).optional(),
      destination: serverNameSchema.optional(),
      limit: wholeNumber(1, 5000).default(500),
    }),
  },
  retryQueueEntry: { method: 'POST', path: '/queue/:id/retry', input: z.strictObject({ id: wholeNumber(1, Number.MAX_SAFE_INTEGER) }) },
  dropQueueEntry: { method: 'DELETE', path: '/queue/:id', input: z.strictObject({ id: wholeNumber(1, Number.MAX_SAFE_INTEGER) }) },
  listAttempts: {
    method: 'GET',
    path: '/attempts',
    input: z.strictObject({ destination: serverNameSchema.optional(), limit: wholeNumber(1, 5000).default(200) }),
  },
} as const;

export interface QueueOutputs {
  /** `at_mailboxes`: our events a friend's mailbox took for a server nobody reaches, not yet fetched by it (issue #32), or fetched and not taken in yet (`taken`). */
  getQueue: { counts: { pending: number; failed: number; expired: number }; entries: QueueEntry[]; at_mailboxes?: WaitingAtMailbox[] };
  retryQueueEntry: QueueEntry;
  dropQueueEntry: { dropped: boolean };
  listAttempts: { attempts: DeliveryAttempt[] };
}

export interface DeliveryAttempt {
  id: number;
  destination: string;
  event_id: string;
  /** HTTP status; null for a network error. */
  status: number | null;
  error: string | null;
  latency_ms: number;
  batch_size: number;
  attempted_at: number;
}

/** Events of ours waiting at a friend's mailbox for their destination to fetch them. */
export interface WaitingAtMailbox {
  destination: string;
  mailbox: string;
  count: number;
  /** When the oldest of them was left there. */
  since: number;
  /** Fetched by their destination, which keeps them to take in later (capability mailbox_waiting): not at the mailbox any more, not delivered yet. */
  taken?: true;
  /** In words: "waiting at carol.example for bob.example to fetch it", or "fetched by bob.example from carol.example, not taken in yet: bob.example tries it again after a wait". */
  waiting: string;
}

/** A row of the outbound queue (the node's outbox, main/core/outbox/outbox.ts). */
export interface QueuedRow {
  id: number;
  destination: string;
  event_id: string;
  room_id: string;
  state: 'pending' | 'failed' | 'expired';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  /** When its last outcome was recorded (a refusal's time); absent from older nodes. */
  updated_at?: number;
}

export interface QueueEntry extends QueuedRow {
  /** How it reaches its destination: pushed, or fetched by it (pull mode, issue #32). */
  delivery: 'push' | 'pull';
  /** Where it waits, in words ("waiting for bob.example to fetch it"). */
  waiting: string;
}

/** Where a queue entry waits, in words (GET /queue `waiting`, the dashboard). */
export function queueEntryWords(entry: Pick<QueueEntry, 'destination' | 'state' | 'attempts'>, delivery: 'push' | 'pull', held = false): string {
  if (entry.state === 'failed') return `not delivered: ${entry.destination} refused it`;
  if (entry.state === 'expired') return `not delivered: ${entry.destination} could not be reached for too long`;
  // Nothing is sent to (or pulled by) a server the owner blocked or quarantined: not "being sent".
  if (held) return `held: nothing is sent to ${entry.destination} until you allow it`;
  if (delivery === 'pull') return `waiting for ${entry.destination} to fetch it`;
  return entry.attempts > 0 ? `waiting to be sent to ${entry.destination} again (tried ${entry.attempts} ${entry.attempts === 1 ? 'time' : 'times'})` : `being sent to ${entry.destination}`;
}
