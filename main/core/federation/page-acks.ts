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
 * marks them failed instead of delivered. They are kept on disk (`AckRefusals`,
 * pull/pull-refusals.ts), written with their page's cursor, and forgotten only once an ack carrying
 * them is answered: a failed ack, the loop's end or a crash leaves them for the next ack, and the
 * first ack at the next start (`resume`) names them. An ack carries at most MAX_ACK_REFUSALS: when
 * the pages stored hold more, it names a lower cursor (the last page whose refusals fit) and the
 * next ack goes on from there, since the sender takes every other event up to an acknowledged
 * cursor as delivered.
 */
import type { Logger } from 'pino';
import { infoLimited } from '../log/rate-limit.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from './peer-refusal.ts';

export const ACK_EVERY_EVENTS = 500;
export const ACK_EVERY_MS = 1_000;
export const ACK_GAP_MS = 100;
/** The most refusals one ack carries (the wire's bound: pull/routes.ts). */
export const MAX_ACK_REFUSALS = 1_000;

/**
 * An event of a stored page refused for good here: its id, the status and error code of the
 * refusal; for a mailbox, `id`: the carried item it came in (mailbox/fetcher.ts).
 */
export interface AckRefusal {
  id?: string;
  event_id: string;
  status: number;
  error: string;
}

/**
 * An event a puller holds for review (it keeps the page's source in quarantine) rides with the
 * page's refusals, kept with its cursor until an ack naming it is answered, under this status:
 * named in the ack's `held` (capability `pull_held`: pull/puller.ts), never in `refused`.
 */
export const HELD_NOTE = { status: 202, error: 'held' } as const;
export const isHeldNote = (note: Pick<AckRefusal, 'status' | 'error'>): boolean => note.status === HELD_NOTE.status && note.error === HELD_NOTE.error;

/** Where the refusals of stored pages wait for an ack (pull/pull-refusals.ts). */
export interface AckRefusals {
  /**
   * Keeps the refusals of `server`'s page up to `cursor`; called in the transaction that saves that
   * cursor. Answers how many it could not keep (a bound per source: pull/pull-refusals.ts).
   */
  keep(server: string, cursor: number, refused: readonly AckRefusal[]): number;
  /**
   * What an ack to `server` for `cursor` names: the refusals of its pages up to it, and `cursor`
   * itself, or, when they are more than MAX_ACK_REFUSALS, the cursor of the last page whose
   * refusals all fit, with those.
   */
  upTo(server: string, cursor: number): { cursor: number; refused: AckRefusal[] };
  /**
   * An ack for `cursor` naming `named` (what upTo gave) was answered: the refusals of the pages up
   * to it are forgotten (those kept under their own ids: the ones named, so that one kept while
   * the ack was on its way is named by the next).
   */
  acknowledged(server: string, cursor: number, named: readonly AckRefusal[]): void;
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
  /** The loop ended: nothing more is sent, retried or logged. */
  private closed = false;
  /** Notes kept for pages acknowledged already (renote): an ack of the stored cursor names them. */
  private renoting = false;
  /** Acknowledgements sent (for the log line of a drained backlog). */
  sent = 0;

  private readonly send: (cursor: number, refused: readonly AckRefusal[]) => Promise<void>;
  private readonly server: string;
  private readonly name: 'pull' | 'mailbox';
  private readonly log: Logger;
  private readonly everyEvents: number;
  private readonly everyMs: number;
  private readonly gapMs: number;
  /** Where the refusals of the stored pages wait (pull mode); none without. */
  private readonly refusals: AckRefusals | null;

  constructor(
    send: (cursor: number, refused: readonly AckRefusal[]) => Promise<void>, server: string, name: 'pull' | 'mailbox', log: Logger,
    options: { events?: number; ms?: number; gapMs?: number; refusals?: AckRefusals } = {},
  ) {
    this.send = send;
    this.server = server;
    this.name = name;
    this.log = log;
    this.everyEvents = options.events ?? ACK_EVERY_EVENTS;
    this.everyMs = options.ms ?? ACK_EVERY_MS;
    this.gapMs = options.gapMs ?? ACK_GAP_MS;
    this.refusals = options.refusals ?? null;
  }

  /**
   * At the loop's start: acknowledges `cursor`, saved before a restart, with the refusals kept for
   * its pages (in several acks when one cannot carry them all). Throws when an ack fails (the loop
   * backs off and starts again).
   */
  async resume(cursor: number): Promise<void> {
    this.stored = Math.max(this.stored, cursor);
    while (this.acked < cursor) {
      const next = this.refusals?.upTo(this.server, cursor) ?? { cursor, refused: [] };
      await this.send(next.cursor, next.refused);
      this.sent += 1;
      this.acked = Math.max(this.acked, next.cursor);
      this.refusals?.acknowledged(this.server, next.cursor, next.refused);
    }
  }

  /** A page up to `cursor` is stored (its refusals kept with its cursor); `caughtUp`: the peer had no more for now. */
  storedUpTo(cursor: number, events: number, caughtUp: boolean): void {
    this.stored = Math.max(this.stored, cursor);
    this.unackedEvents += events;
    this.caughtUp = caughtUp;
    this.flush();
  }

  /**
   * Something to name was kept for pages acknowledged already (mailbox/carried-retries.ts: a
   * carried request settled after its page's ack): an ack of the stored cursor names it, soon (no
   * page need follow). Before the first page or resume, it waits for their ack.
   */
  renote(): void {
    if (this.closed) return;
    this.renoting = true;
    this.caughtUp = true;
    this.flush();
  }

  /** Everything stored is acknowledged (or being acknowledged). */
  get settled(): boolean {
    return this.stored <= this.acked && this.inFlight === null;
  }

  private flush(): void {
    if (this.closed || this.inFlight || this.timer || (this.stored <= this.acked && !(this.renoting && this.stored > 0))) return;
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
    let cursor = this.stored;
    let refused: readonly AckRefusal[] = [];
    try {
      if (this.refusals) ({ cursor, refused } = this.refusals.upTo(this.server, this.stored));
    } catch (error) {
      // The database (closing, failing): the ack waits, as a failed one does.
      return this.failed(error as Error);
    }
    const events = this.unackedEvents;
    const renoting = this.renoting;
    this.unackedEvents = 0;
    this.renoting = false;
    this.sent += 1;
    this.lastSentAt = now;
    this.inFlight = this.send(cursor, refused).then(
      () => {
        this.acked = Math.max(this.acked, cursor);
        this.inFlight = null;
        this.failures = 0;
        // Short of what is stored (more refusals than one ack carries): the rest goes next, at once;
        // so do notes left out of a full one (kept under their own ids, they are still there).
        if (cursor < this.stored) this.caughtUp = true;
        if (refused.length >= MAX_ACK_REFUSALS || (renoting && cursor < this.stored)) {
          this.renoting = true;
          this.caughtUp = true;
        }
        try {
          this.refusals?.acknowledged(this.server, cursor, refused);
        } catch {
          // Not forgotten: named again with the next ack, where the sender ignores them (settled).
        }
        this.flush();
      },
      (error: Error) => {
        this.unackedEvents += events;
        if (renoting) this.renoting = true;
        this.inFlight = null;
        this.failed(error);
      },
    );
  }

  /** An ack failed (or could not be made): sent again a second later, doubling while it keeps failing. */
  private failed(error: Error): void {
    // Aborted by the loop's end: sent again at the next start (the stored cursor), not here.
    if (this.closed) return;
    const event = `${this.name}_ack_failed`;
    infoLimited(this.log, `${event} ${this.server}`, { event, server: this.server, error: cleanText(error.message, PEER_TEXT_MAX) }, `${this.name} acknowledgement failed; it is sent again`);
    this.caughtUp = true;
    this.failures += 1;
    this.later(Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1)));
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
   * The loop ends: no more retries (what is stored is acknowledged again at the next start, with
   * the refusals still kept: `resume`).
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
