/** What the delivery workers (delivery-worker.ts) are given: the queue, the wire, and what the node decides for them. */
import type { Logger } from 'pino';
import type { Discovery } from '../federation/discovery.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { HttpClient } from '../federation/http-client.ts';
import type { Identity } from '../identity/identity.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { Outbox } from './outbox.ts';
import type { PullQueue } from '../pull/pull-queue.ts';
import type { MailboxSender } from '../mailbox/sender.ts';
import type { MailboxDeposits } from '../mailbox/deposits.ts';
import type { PushPacer } from './push-pacer.ts';

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface DeliveryDeps {
  outbox: Outbox;
  events: FederationEvents;
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  /** Outbound to a quarantined or blocked server is paused until it is allowed again. */
  isHeld?: (destination: string) => boolean;
  backoff?: BackoffPolicy;
  maxAgeMs?: number;
  onChange?: () => void;
  /**
   * Subscribes the workers to every row queued, inside the transaction that queues it (the
   * outbox's onQueued, through the node's bus): they then know their queue is no longer empty.
   */
  subscribeQueued?: (listener: (destination: string) => void) => void;
  /**
   * The destination (a room's host) refused our event as placed too far back: 409
   * `depth_too_old` with its `room_depth`. Re-issues the event after the room's latest events
   * (rooms decide how); true when it did, and the event is to be sent again.
   */
  reissue?: (destination: string, eventId: string, roomDepth: unknown) => Promise<boolean>;
  /**
   * Its node answered a request sent straight to it (taken, or refused in the protocol's words):
   * it is there, so "seen" (trust-store.ts markSeen) — a friend that only receives was "Last seen
   * 3 h ago" however often it took our messages, and after a refusal.
   */
  onAnswered?: (destination: string) => void;
  /** Told about every delivery request (metrics): how it went, how long it took, how many events were acknowledged. */
  onAttempt?: (destination: string, outcome: 'delivered' | 'retry' | 'refused' | 'network_error', latencyMs: number, delivered: number) => void;
  /**
   * Pull mode (pull-queue.ts): a destination that pulls from us is not pushed to; its rows wait
   * to be pulled, and new work wakes its waiting pull instead.
   */
  pull?: PullQueue;
  /** A friend's node as a mailbox (issue #32): where a request goes when the destination cannot be reached. */
  mailbox?: MailboxSender;
  /** Where our events wait after a mailbox took them ("waiting at carol.example for bob.example"). */
  deposits?: MailboxDeposits;
  /** Push limits of destinations that have one (push-pacer.ts). */
  pacer?: PushPacer;
  /**
   * For a destination that would refuse or drop some events (a Paracord reference 3.x:
   * reference/carry.ts), why an event cannot be carried there (null: it can). Such an entry fails
   * at once with that reason, in words the owner reads in the queue; nothing is sent.
   */
  cannotCarry?: (destination: string) => ((event: Envelope) => string | null) | null;
  /**
   * Whether a destination words some refusals in plain text (a Paracord reference: axum's body
   * extractors: 400, 413, 415, 422; docs/REFERENCE-INTEROP-NOTES.md row 26): such a page of that status
   * is its refusal, final; any other page, or anyone else's, means its node was not reached.
   */
  plainRefusals?: (destination: string) => boolean;
}
