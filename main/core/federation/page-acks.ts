/**
 * Acknowledgements of a signed page loop (signed-page-loop.ts: pull mode, issue #15, and the
 * mailbox fetcher, issue #32), off its critical path. The taker notes each page once it is taken
 * durably (its cursor committed); this sends the ack (`POST /pull/ack`, `POST /mailbox/ack`) for
 * the highest such cursor — never for one not yet stored, so the peer deletes only what we hold —
 * at most one at a time, and not for every page while a backlog drains: when the taker has caught
 * up (a short or empty page), after `everyEvents` unacknowledged events, or `everyMs` after the
 * last one (a timer: no page may follow); and, caught up, at most one per `gapMs` (a trickle of
 * events, one page each, would otherwise cost one ack each). The next page is asked for meanwhile
 * (acknowledging is not a condition for pulling: `GET /pull` serves what follows the cursor it is
 * given). A failed ack is sent again a second later (doubling while it keeps failing, up to 8 s);
 * one lost in a crash is sent at the next start (the stored cursor).
 *
 * Refusals (pull mode): the events of the stored pages that this node refused for good (a 4xx
 * verdict) ride with the ack that covers them (`POST /pull/ack {cursor, refused}`), so the sender
 * marks them failed instead of delivered. They are kept here, in memory, until an ack carrying
 * them is answered (a failed ack keeps them for its retry), at most MAX_ACK_REFUSALS (more are
 * dropped, and logged: those show as delivered there, the behaviour before). Not persisted: a
 * crash (or the loop's end) between storing a page and its ack loses them, and the ack sent at the
 * next start (the stored cursor alone) has the sender take those events as delivered.
 */
import type { Logger } from 'pino';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from './peer-refusal.ts';

export const ACK_EVERY_EVENTS = 500;
export const ACK_EVERY_MS = 1_000;
export const ACK_GAP_MS = 100;
/**
 * The most refusals one ack carries, and that wait here (the wire's bound: pull/routes.ts). An ack
 * covers at most ACK_EVERY_EVENTS events and a page beyond, unless acks fail while pages flow.
 */
export const MAX_ACK_REFUSALS = 1_000;

/** An event of a stored page refused for good here: its id, the status and error code of the refusal. */
export interface AckRefusal {
  event_id: string;
  status: number;
  error: string;
}

/**
 * A failed ack is sent again after 1 s, doubling while it keeps failing, up to 8 s: well under the
 * 30 s after which a mailbox's depositor takes a deposit still there as taken late and re-issues it.
 */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 8_000;

export class PageAcks {
  /** The highest cursor stored durably, and the highest the peer confirmed. */
  private stored = 0;
  private acked = 0;
  private unackedEvents = 0;
  private lastSentAt = performance.now();
  private inFlight: Promise<void> | null = null;
  /** A flush waiting: a retry, or the gap after the last ack. */
  private timer: NodeJS.Timeout | null = null;
  /** A flush at `everyMs` after the last ack, while pages of a backlog are coalesced. */
  private deadline: NodeJS.Timeout | null = null;
  private caughtUp = false;
  /** Acks failed in a row (the retry's wait doubles). */
  private failures = 0;
  /** Refusals of stored pages not yet carried by an answered ack (at most MAX_ACK_REFUSALS). */
  private refused: AckRefusal[] = [];
  /** The loop ended: nothing more is sent, retried or logged. */
  private closed = false;
  /** Acknowledgements sent (for the log line of a drained backlog). */
  sent = 0;

  private readonly send: (cursor: number, refused: readonly AckRefusal[]) => Promise<void>;
  private readonly server: string;
  private readonly name: 'pull' | 'mailbox';
  private readonly log: Logger;
  private readonly everyEvents: number;
  private readonly everyMs: number;
  private readonly gapMs: number;

  constructor(send: (cursor: number, refused: readonly AckRefusal[]) => Promise<void>, server: string, name: 'pull' | 'mailbox', log: Logger, every: { events?: number; ms?: number; gapMs?: number } = {}) {
    this.send = send;
    this.server = server;
    this.name = name;
    this.log = log;
    this.everyEvents = every.events ?? ACK_EVERY_EVENTS;
    this.everyMs = every.ms ?? ACK_EVERY_MS;
    this.gapMs = every.gapMs ?? ACK_GAP_MS;
  }

  /** A page up to `cursor` is stored, with the events of it refused here; `caughtUp`: the peer had no more for now. */
  storedUpTo(cursor: number, events: number, caughtUp: boolean, refused: readonly AckRefusal[] = []): void {
    this.stored = Math.max(this.stored, cursor);
    this.keep(refused);
    this.unackedEvents += events;
    this.caughtUp = caughtUp;
    this.flush();
  }

  /** Everything stored is acknowledged (or being acknowledged). */
  get settled(): boolean {
    return this.stored <= this.acked && this.inFlight === null;
  }

  private flush(): void {
    if (this.closed || this.inFlight || this.timer || this.stored <= this.acked) return;
    // A clock that does not step: a wall clock set back would hold every ack for as long.
    const now = performance.now();
    if (!this.caughtUp && this.unackedEvents < this.everyEvents && now - this.lastSentAt < this.everyMs) {
      // Flushed again when the time is up: the page after a full one may never come (an empty
      // long poll with the same cursor is not a page taken), and the peer would keep these rows.
      this.deadline ??= setTimeout(() => {
        this.deadline = null;
        this.flush();
      }, this.lastSentAt + this.everyMs - now).unref();
      return;
    }
    const wait = this.lastSentAt + this.gapMs - now;
    if (wait > 0) return this.later(wait);
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    const cursor = this.stored;
    const events = this.unackedEvents;
    const refused = this.refused;
    this.refused = [];
    this.unackedEvents = 0;
    this.sent += 1;
    this.lastSentAt = now;
    this.inFlight = this.send(cursor, refused).then(
      () => {
        this.acked = Math.max(this.acked, cursor);
        this.inFlight = null;
        this.failures = 0;
        this.flush();
      },
      (error: Error) => {
        this.unackedEvents += events;
        // Sent again with the next ack, before those of pages stored since (within the bound).
        const since = this.refused;
        this.refused = [];
        this.keep(refused);
        this.keep(since);
        this.inFlight = null;
        // Aborted by the loop's end: sent again at the next start (the stored cursor), not here.
        if (this.closed) return;
        const event = `${this.name}_ack_failed`;
        infoLimited(this.log, `${event} ${this.server}`, { event, server: this.server, error: cleanText(error.message, PEER_TEXT_MAX) }, `${this.name} acknowledgement failed; it is sent again`);
        this.caughtUp = true;
        this.failures += 1;
        this.later(Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1)));
      },
    );
  }

  /** Keeps refusals for the next ack, up to MAX_ACK_REFUSALS (the rest are dropped: logged). */
  private keep(refused: readonly AckRefusal[]): void {
    const room = MAX_ACK_REFUSALS - this.refused.length;
    if (refused.length > room) {
      const event = `${this.name}_ack_refusals_dropped`;
      warnLimited(this.log, `${event} ${this.server}`, { event, server: this.server, dropped: refused.length - Math.max(0, room) }, `too many refused events wait for an acknowledgement; the ${this.name} sender will count the rest as delivered`);
    }
    if (room > 0) this.refused.push(...refused.slice(0, room));
  }

  private later(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, ms);
    this.timer.unref();
  }

  /**
   * The loop ends: no more retries (what is stored is acknowledged again at the next start, without
   * the refusals still waiting here: the sender takes those events as delivered).
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
    this.timer = null;
    this.deadline = null;
    this.stored = this.acked;
    await this.inFlight?.catch(() => undefined);
  }
}
