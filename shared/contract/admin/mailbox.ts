/**
 * A friend's node as a mailbox (issue #32).
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

export const mailboxOperations = {
  /** A friend's node as a mailbox (issue #32): what this node holds for friends, where it fetches its own, and the owner's switch. */
  getMailbox: { method: 'GET', path: '/mailbox', input: z.strictObject({}) },
  setMailbox: { method: 'PUT', path: '/mailbox', input: z.strictObject({ enabled: z.boolean() }) },
} as const;

export interface MailboxOutputs {
  getMailbox: MailboxView;
  setMailbox: MailboxView;
}

/** GET /mailbox: what this node holds for friends who cannot be reached, and what it fetches for itself. */
export interface MailboxView {
  /** "Let friends use this node as their mailbox" (on by default). */
  enabled: boolean;
  /**
   * Per friend: requests held here for it, in words too ("Holding 120 requests for bob.example").
   * `fetched`: of `items`, those it fetched and keeps to take in later (they stay here until it
   * has taken or refused them; "…: bob.example fetched 2 of them and takes those in later").
   */
  holding: Array<{ server_name: string; items: number; bytes: number; oldest_at: number; fetched: number; text: string }>;
  /** The mailboxes this node fetches from while nobody can reach it. */
  sources: Array<{ server_name: string; last_fetch_at: number | null; last_error: string | null }>;
  /**
   * Per friend and mailbox: requests fetched for this node from a mailbox that it could not take
   * yet and keeps to take later, in order (its limits or quota for that friend, keys not readable
   * now, a failure here). `reason` in words in `text` ("12 requests from bob.example, fetched from
   * carol.example's mailbox, wait here: over the rate limit this node gives bob.example");
   * `next_at` its next try; `last_error` this node's own answer's code (for "details").
   */
  waiting_here: Array<{
    server_name: string; mailbox: string; requests: number; reason: 'rate_limit' | 'quota' | 'keys' | 'failure' | 'queued';
    next_at: number; last_error: string | null; text: string;
  }>;
}
