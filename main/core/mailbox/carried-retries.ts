/**
 * Carried requests answered "not yet", kept here so that they block nobody (review 2026-11-27).
 * A mailbox page is taken in order; a request our listener answers "not yet" (over its
 * depositor's rate limit or daily quota here: 429; its signer's keys not readable now: 503
 * keys_*; a failure here: 5xx) used to be dropped (its copy then answered 409, "taken before").
 * Asking the whole page again instead made one such request hold every depositor's mail behind it.
 * Now it is kept in `mailbox_retries` (durably, before the page is acknowledged at the mailbox)
 * and handed over again from here when its wait is over; the depositor's later requests through
 * that mailbox (of the same page and later pages) queue behind it, so its order is kept and the
 * others go on. A queue is one depositor's requests through one mailbox: what a hostile mailbox
 * hands over in a depositor's name holds only that mailbox's queue, not the depositor's mail
 * through the others (whose order across two mailboxes was never kept). What cannot be checked
 * (and what fails here on something unforeseen: 500 internal_error) is tried for
 * UNCHECKED_RETRY_FOR_MS (for a queue's run of such requests together, not one after another),
 * then given up (logged); a limit, or a failure of the disk or database here (503),
 * waits as long as it holds. A queue keeps at most KEEP_LIMITS.perQueue requests (perQueueBytes
 * of bodies, counted in bytes): past that its depositor's requests are refused (its own backlog;
 * holding the page for it held everyone's mail). All queues through one mailbox keep at most
 * perMailbox (perMailboxBytes): past that the page stays at that mailbox and is asked again later
 * (nothing is dropped), while the other mailboxes' pages go on (there is no cap for all mailboxes together that one mailbox could fill: a mailbox is
 * a peer the owner allowed, and each has its own share).
 * A request is kept only if it is fresh (within the mailbox window) and was not taken before (no
 * replay entry); its age is then judged from when it was kept, however long it waits here
 * (self-dispatch.ts's kept-at header), so a long wait here does not make it stale.
 */
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import { UNCHECKED_RETRY_FOR_MS } from '../federation/fetched-event-failure.ts';
import { MAX_CLOCK_SKEW_MS } from '../federation/request-signature.ts';
import { MAILBOX_MAX_AGE_MS } from './mailbox-store.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import type { CarriedRequest, DispatchAnswer } from './self-dispatch.ts';
import type { AckRefusals } from '../federation/page-acks.ts';
import type { StoredPullRefusals } from '../pull/pull-refusals.ts';
import { SETTLED_NOTE } from './wire.ts';
import { carriedEventIds } from './carried-refusals.ts';

export interface KeepLimits {
  /** Requests (and bytes of bodies) one depositor may have kept here through one mailbox. */
  perQueue: number;
  perQueueBytes: number;
  /** Requests (and bytes) kept here through one mailbox, all depositors together. */
  perMailbox: number;
  perMailboxBytes: number;
}
export const KEEP_LIMITS: Readonly<KeepLimits> = Object.freeze({ perQueue: 5_000, perQueueBytes: 64 * 1024 * 1024, perMailbox: 20_000, perMailboxBytes: 256 * 1024 * 1024 });
/** Waits without a Retry-After: a limit here (an event's daily quota, in a batch answer), anything else. */
const LIMIT_WAIT_MS = 60_000;
const OTHER_WAIT_MS = 30_000;
const MAX_WAIT_MS = 24 * 3600_000;
/** The code a request given up here is refused with, to its depositor through its mailbox. */
const GIVEN_UP = 'not_checkable';
/** After a round that failed on the database: the next one waits at least this long. */
const FAILED_RUN_PAUSE_MS = 30_000;

interface KeptRow {
  id: number;
  from_server: string;
  mailbox: string;
  path: string;
  key_id: string;
  timestamp: string;
  signature: string;
  body: string;
  kept_at: number;
  next_at: number;
  unchecked_since: number | null;
}

/** Requests of one depositor through one mailbox waiting here (waitingHere()). */
export interface WaitingHere {
  from_server: string;
  mailbox: string;
  requests: number;
  /** Our listener's last answer to the oldest (null: not handed over yet). */
  last_status: number | null;
  last_error: string | null;
  next_at: number;
}

/**
 * What keep() did: kept, `known` (kept already), `full` (the page stays at the mailbox); or not
 * kept, final: `taken_before`, `stale`, `queue_full` (its depositor's queue here is full).
 */
export type KeepResult = 'kept' | 'known' | 'full' | 'taken_before' | 'stale' | 'queue_full';

interface Held {
  n: number;
  bytes: number;
}

export interface CarriedRetriesDeps {
  db: Db;
  log: Logger;
  dispatch: (request: CarriedRequest) => Promise<DispatchAnswer>;
  /** Runs a write and resolves once it is on disk (the group commit). */
  durably: (write: () => void) => Promise<void>;
  /** Whether a request signature was taken before (the replay cache). */
  seen: (signature: string) => boolean;
  /** What waits here changed (the owner's view): a depositor's first request kept, its last taken, a round of hand-overs. */
  onChange?: () => void;
  /** KEEP_LIMITS unless given (tests). */
  limits?: Partial<KeepLimits>;
  /**
   * Where a request kept here that came as a mailbox's item is noted settled, once taken, refused
   * or given up (a SETTLED_NOTE, with the refusals of one given up), for the next ack to that
   * mailbox (fetcher.ts): the mailbox kept the item meanwhile, and its depositor read it as
   * neither delivered nor at the mailbox.
   */
  refusals?: AckRefusals & Pick<StoredPullRefusals, 'forgetOfItem'>;
  /** A request of `mailbox` was noted settled (after its commit): an ack names it. */
  settled?: (mailbox: string) => void;
}

/**
 * Answers tried for a while only (UNCHECKED_RETRY_FOR_MS for a queue's run of them), then given
 * up: what cannot be checked now, and what failed here on something unforeseen (a defect met on
 * this request would hold its queue for good). A limit, or the disk or database failing here, is
 * waited out.
 */
function windowed(answer: DispatchAnswer): boolean {
  return answer.notYet === 'unchecked' || answer.notYet === 'defect';
}

/** A queue: one depositor's requests through one mailbox (the key of the counts and windows). */
const queueKey = (mailbox: string, from: string) => `${mailbox}\n${from}`;

/** How long a "not yet" answer asks to wait. */
function waitOf(answer: DispatchAnswer): number {
  const fallback = answer.notYet === 'limit' ? LIMIT_WAIT_MS : OTHER_WAIT_MS;
  return Math.min(answer.retryAfterMs ?? fallback, MAX_WAIT_MS);
}

export class CarriedRetries {
  private readonly deps: CarriedRetriesDeps;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Per queue (`mailbox\nfrom`): since when its requests handed over from here could not be checked (in memory). */
  private readonly uncheckedSince = new Map<string, number>();
  /** Rows and body sizes kept, per `mailbox\nfrom` and per mailbox (totals()). */
  private held: { by: Map<string, Held>; byMailbox: Map<string, Held> } | null = null;
  private readonly limits: KeepLimits;
  /** Not before this (a round failed on the database). */
  private pausedUntil = 0;

  constructor(deps: CarriedRetriesDeps) {
    this.deps = deps;
    this.limits = { ...KEEP_LIMITS, ...deps.limits };
  }

  /**
   * What waits here, per queue (the owner's view): a depositor's requests through one mailbox,
   * how many, and the oldest one's last answer and next try (the rest queue behind it).
   */
  waitingHere(): WaitingHere[] {
    return this.deps.db
      .prepare<[], WaitingHere>(
        `SELECT w.from_server, w.mailbox, w.requests, r.last_status, r.last_error, r.next_at FROM
           (SELECT from_server, mailbox, COUNT(*) AS requests, MIN(id) AS first FROM mailbox_retries GROUP BY mailbox, from_server) w
           JOIN mailbox_retries r ON r.id = w.first ORDER BY w.requests DESC LIMIT 100`,
      )
      .all();
  }

  /**
   * Whether requests of `from` carried by `mailbox` wait here: its next ones from there queue
   * behind them (its order through that mailbox is kept). Per mailbox: what one mailbox hands over
   * in a depositor's name (forged requests that cannot be checked) holds only that mailbox's
   * queue for it, never what the depositor's mail brings through the others.
   */
  waiting(mailbox: string, from: string): boolean {
    // From the counts (no read per carried item); a keep still waiting for its commit counts too.
    return this.totals().by.has(queueKey(mailbox, from));
  }

  /**
   * Keeps a carried request that was not taken: answered "not yet" (`answer`), or null when it
   * queues behind its depositor's waiting ones. On disk once this resolves. `full` when everyone
   * together through that mailbox already has its fill waiting here: the caller leaves the page at
   * the mailbox then, to be asked again later. `refused` when it is stale or was taken before (it
   * would be refused when handed over, and keeping it would let its age count from now, past its
   * replay entry), or its depositor already has its fill waiting here through that mailbox.
   */
  async keep(mailbox: string, item: CarriedRequest, answer: DispatchAnswer | null, now = Date.now()): Promise<KeepResult> {
    const ts = Number(item.timestamp);
    const taken = this.deps.seen(item.signature);
    if (taken || !(ts - now <= MAX_CLOCK_SKEW_MS && now - ts <= MAILBOX_MAX_AGE_MS + MAX_CLOCK_SKEW_MS)) {
      warnLimited(this.deps.log, `mailbox_item_refused ${item.from}`, { event: 'mailbox_item_refused', mailbox, from: item.from, error: taken ? 'replayed_request' : 'stale_timestamp' }, 'a request carried by a mailbox was refused');
      return taken ? 'taken_before' : 'stale';
    }
    // A copy of one kept already (the page asked again): it is there.
    if (this.deps.db.prepare<[string], { one: number }>('SELECT 1 AS one FROM mailbox_retries WHERE signature = ?').get(item.signature)) return 'known';
    // Per queue (a mailbox that forges a depositor's name fills only its own share for it) and per
    // mailbox (a mailbox fills only its own share of this node); counted before the write waits
    // for its commit, so keeps in flight at once cannot pass the caps together.
    const { by, byMailbox } = this.totals();
    const held = by.get(queueKey(mailbox, item.from)) ?? { n: 0, bytes: 0 };
    const through = byMailbox.get(mailbox) ?? { n: 0, bytes: 0 };
    // Bytes, not characters: a body of 4-byte characters is counted as what it takes on disk.
    const size = Buffer.byteLength(item.body, 'utf8');
    const { limits } = this;
    if (through.n >= limits.perMailbox || through.bytes + size > limits.perMailboxBytes) {
      warnLimited(this.deps.log, `mailbox_retries_full ${mailbox}`, { event: 'mailbox_retries_full', mailbox, from: item.from, waiting_through_mailbox: through.n }, 'too many carried requests wait here; the mailbox keeps the rest until they can be kept');
      return 'full';
    }
    // One depositor's queue full. Held by what the depositor itself controls (its head cannot be
    // checked: signed under a key it keeps from us; or fails here on something unforeseen): its
    // surplus is refused, final (its own doing). Leaving the page at the mailbox for it held every
    // other depositor's mail there behind it (red team, 2026-11-28). Held by us (our limit for it,
    // a failure of our disk), nothing is dropped: the page stays at the mailbox, as when the
    // mailbox's share is full (a review, 2026-11-28: an honest friend's backlog after a week away
    // was refused and shown delivered).
    if (held.n >= limits.perQueue || held.bytes + size > limits.perQueueBytes) {
      const head = this.deps.db.prepare<[string, string], { unchecked_since: number | null }>('SELECT unchecked_since FROM mailbox_retries WHERE mailbox = ? AND from_server = ? ORDER BY id LIMIT 1').get(mailbox, item.from);
      // (None waiting: this one alone is over the queue's bytes, and could never be kept.)
      if (head !== undefined && head.unchecked_since === null) {
        warnLimited(this.deps.log, `mailbox_retries_full ${mailbox} ${item.from}`, { event: 'mailbox_retries_full', mailbox, from: item.from, waiting: held.n }, 'one server has as many carried requests waiting here as it may, for a limit or a failure here; the mailbox keeps the rest until they can be kept');
        return 'full';
      }
      warnLimited(this.deps.log, `mailbox_queue_full ${mailbox} ${item.from}`, { event: 'mailbox_queue_full', mailbox, from: item.from, waiting: held.n }, 'one server has as many carried requests waiting here as it may, its first one not checkable: this one is refused');
      return 'queue_full';
    }
    this.tally(mailbox, item.from, 1, size);
    const nextAt = answer ? now + waitOf(answer) : now;
    const uncheckedSince = answer && windowed(answer) ? now : null;
    let inserted = false;
    try {
      let written = false;
      await this.deps.durably(() => {
        const row = this.deps.db
          .prepare('INSERT OR IGNORE INTO mailbox_retries (from_server, mailbox, path, key_id, timestamp, signature, body, kept_at, next_at, unchecked_since, last_status, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(item.from, mailbox, item.path, item.keyId, item.timestamp, item.signature, item.body, now, nextAt, uncheckedSince, answer?.status ?? null, answer?.error?.slice(0, 100) ?? null);
        written = row.changes > 0;
        // The item it came in, named settled to its mailbox once it is done with (handOver). Kept
        // again (one given up has no replay entry: its page asked again), its item waits again:
        // a settled note (and give-up refusals) not named yet would let the mailbox drop it.
        if (written && item.itemId !== undefined) {
          this.deps.db.prepare('INSERT OR REPLACE INTO mailbox_retry_items (retry_id, mailbox, item_id) VALUES (?, ?, ?)').run(row.lastInsertRowid, mailbox, Number(item.itemId));
          this.deps.refusals?.forgetOfItem(mailbox, Number(item.itemId), SETTLED_NOTE, GIVEN_UP);
        }
      });
      // Counted once committed: a commit that failed (rolled back) wrote nothing.
      inserted = written;
    } finally {
      // Kept already (the same request twice), or not written: not counted.
      if (!inserted) this.tally(mailbox, item.from, -1, -size);
    }
    if (answer) infoLimited(this.deps.log, `mailbox_item_not_yet ${item.from}`, { event: 'mailbox_item_not_yet', mailbox, from: item.from, path: item.path, status: answer.status, error: answer.error, wait_ms: nextAt - now }, 'a request carried by a mailbox could not be taken yet; kept here and handed over again after the wait');
    this.arm();
    return inserted ? 'kept' : 'known';
  }

  /** Whether a request kept here came in `mailbox`'s item `itemId` (it is named settled there once done with). */
  keepsItem(mailbox: string, itemId: number): boolean {
    return this.deps.db.prepare<[string, number], number>('SELECT 1 FROM mailbox_retry_items WHERE mailbox = ? AND item_id = ?').pluck().get(mailbox, itemId) !== undefined;
  }

  /** What waits here per queue (`mailbox\nfrom`) and per mailbox: read once, then kept as rows come and go. */
  private totals(): { by: Map<string, Held>; byMailbox: Map<string, Held> } {
    if (!this.held) {
      const by = new Map<string, Held>();
      const byMailbox = new Map<string, Held>();
      const rows = this.deps.db.prepare<[], { mailbox: string; from_server: string; n: number; bytes: number }>('SELECT mailbox, from_server, COUNT(*) AS n, SUM(LENGTH(CAST(body AS BLOB))) AS bytes FROM mailbox_retries GROUP BY mailbox, from_server').all();
      for (const row of rows) {
        by.set(queueKey(row.mailbox, row.from_server), { n: row.n, bytes: row.bytes });
        const through = byMailbox.get(row.mailbox) ?? { n: 0, bytes: 0 };
        byMailbox.set(row.mailbox, { n: through.n + row.n, bytes: through.bytes + row.bytes });
      }
      this.held = { by, byMailbox };
    }
    return this.held;
  }

  private tally(mailbox: string, from: string, n: number, bytes: number): void {
    const { by, byMailbox } = this.totals();
    const key = queueKey(mailbox, from);
    for (const [map, k] of [[by, key], [byMailbox, mailbox]] as const) {
      const held = map.get(k) ?? { n: 0, bytes: 0 };
      const before = held.n;
      held.n += n;
      held.bytes += bytes;
      if (held.n <= 0) map.delete(k);
      else map.set(k, held);
      if (map === by && (before === 0) !== (held.n <= 0)) {
        // A queue that empties forgets its unchecked window: a later request of it gets a window of its own.
        if (held.n <= 0) this.uncheckedSince.delete(key);
        this.deps.onChange?.();
      }
    }
  }

  /** Hands over what waits here when its time comes (started with the mailbox fetcher). */
  start(): void {
    this.stopped = false;
    // The totals are read before any row is handed over (and deleted): a delete counted against
    // totals read after it would count it twice.
    this.totals();
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One timer, for the earliest wait: nothing wakes while nothing waits. */
  private arm(): void {
    if (this.stopped || this.running) return;
    // Only each queue's oldest request can be handed over (the rest wait behind it, due at once).
    const next = this.deps.db
      .prepare<[], { at: number | null }>('SELECT MIN(next_at) AS at FROM mailbox_retries WHERE id IN (SELECT MIN(id) FROM mailbox_retries GROUP BY mailbox, from_server)')
      .get()?.at ?? null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (next === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.run()
        // A database error while handing over: logged, and tried again after a pause (never a
        // busy loop, never an unhandled rejection).
        .catch((error: unknown) => {
          this.pausedUntil = Date.now() + FAILED_RUN_PAUSE_MS;
          warnLimited(this.deps.log, 'mailbox_retries_failed', { event: 'mailbox_retries_failed', err: error }, 'handing over kept carried requests failed; trying again later');
        })
        .finally(() => {
          this.running = null;
          try {
            this.arm();
          } catch (error) {
            warnLimited(this.deps.log, 'mailbox_retries_failed', { event: 'mailbox_retries_failed', err: error }, 'handing over kept carried requests failed; trying again at the next one kept or at start');
          }
        });
    }, Math.max(0, this.pausedUntil - Date.now(), Math.min(next - Date.now(), MAX_WAIT_MS)));
    this.timer.unref();
  }

  /**
   * Each queue's (a depositor's requests through one mailbox) waiting requests, oldest first,
   * until one must wait again; one request of each queue in turn, so one long backlog does not
   * hold the others'. The queues are read again each round: one kept meanwhile takes its turn.
   */
  private async run(): Promise<void> {
    /** Queues whose oldest request must wait (this run is done with them). */
    const waits = new Set<string>();
    try {
      for (;;) {
        // The queues as counted (no scan of the table each round).
        const turn = [...this.totals().by.keys()].filter((queue) => !waits.has(queue));
        if (turn.length === 0) return;
        for (const queue of turn) {
          if (this.stopped) return;
          const [mailbox, from] = queue.split('\n') as [string, string];
          if (!(await this.handOver(mailbox, from))) waits.add(queue);
        }
      }
    } finally {
      this.deps.onChange?.();
    }
  }

  /** Hands over the oldest request `from` waiting here through `mailbox`, if it is due; true when its next one may be too. */
  private async handOver(mailbox: string, from: string): Promise<boolean> {
    const { db, log } = this.deps;
    const row = db.prepare<[string, string], KeptRow>('SELECT * FROM mailbox_retries WHERE mailbox = ? AND from_server = ? ORDER BY id LIMIT 1').get(mailbox, from);
    const now = Date.now();
    if (!row || row.next_at > now) return false;
    const itemId = db.prepare<[number], number>('SELECT item_id FROM mailbox_retry_items WHERE retry_id = ?').pluck().get(row.id);
    let answer: DispatchAnswer;
    try {
      // With its item: what our listener refuses of it for good is kept to be named to its mailbox (carried-refusals.ts).
      answer = await this.deps.dispatch({
        from: row.from_server, path: row.path, keyId: row.key_id, timestamp: row.timestamp, signature: row.signature, body: row.body, keptAt: row.kept_at, mailbox: row.mailbox,
        ...(itemId !== undefined ? { itemId: String(itemId) } : {}),
      });
    } catch (error) {
      answer = { status: 500, error: (error as Error).message, notYet: 'failure', items: 1, taken: 0 };
    }
    const queue = queueKey(mailbox, from);
    // A queue's requests that cannot be checked share one window (a run of them is not tried for
    // 2 h each, one after another).
    const since = windowed(answer) ? Math.min(row.unchecked_since ?? now, this.uncheckedSince.get(queue) ?? now) : null;
    const gaveUp = since !== null && now - since >= UNCHECKED_RETRY_FOR_MS;
    if (since !== null) this.uncheckedSince.set(queue, since);
    else if (!answer.notYet) this.uncheckedSince.delete(queue);
    if (answer.notYet && !gaveUp) {
      db.prepare('UPDATE mailbox_retries SET next_at = ?, unchecked_since = ?, last_status = ?, last_error = ? WHERE id = ?').run(now + waitOf(answer), since, answer.status, answer.error?.slice(0, 100) ?? null, row.id);
      return false;
    }
    if (gaveUp && answer.notYet === 'defect') log.error({ event: 'mailbox_item_given_up', from, path: row.path, status: answer.status, error: answer.error }, 'a request carried by a mailbox failed here on something unforeseen for hours; given up (see the request_failed errors)');
    else if (gaveUp) log.warn({ event: 'mailbox_item_given_up', from, path: row.path, status: answer.status }, 'a request carried by a mailbox could not be checked for hours; given up');
    else if (answer.status >= 400 && answer.status !== 409) {
      warnLimited(log, `mailbox_item_refused ${from}`, { event: 'mailbox_item_refused', from, status: answer.status, error: answer.error }, 'a request carried by a mailbox was refused');
    }
    // Done with: its item is noted settled for its mailbox, with what was refused of it for good
    // (the answer's refusals: one refused before our listener recorded anything, e.g. its origin
    // blocked since, is in no table; one given up has its events refused: else read as
    // delivered), in a commit after our listener's (its own record of those refusals: the same rows).
    const id = String(itemId);
    const notes = itemId === undefined || !this.deps.refusals ? null : [
      ...(answer.notYet ? [] : (answer.refused ?? []).map((r) => ({ id, ...r }))),
      ...(gaveUp ? [...carriedEventIds(row.path, row.body)].map((eventId) => ({ id, event_id: eventId, status: 403, error: GIVEN_UP })) : []),
      { id, ...SETTLED_NOTE },
    ];
    let deleted = false;
    let dropped = 0;
    await this.deps.durably(() => {
      deleted = db.prepare('DELETE FROM mailbox_retries WHERE id = ?').run(row.id).changes > 0;
      db.prepare('DELETE FROM mailbox_retry_items WHERE retry_id = ?').run(row.id);
      if (deleted && notes) dropped = this.deps.refusals!.keep(mailbox, itemId!, notes);
    });
    // Only while that mailbox has taken none of our acks for long (its room of notes full): its item then stays there until its week ends.
    if (dropped > 0) warnLimited(log, `mailbox_notes_not_kept ${mailbox}`, { event: 'mailbox_notes_not_kept', mailbox, dropped }, 'a mailbox has not taken our acknowledgements for a long time: a request done with here is not named to it, and its item stays there until its week ends');
    if (deleted) {
      this.tally(mailbox, from, -1, -Buffer.byteLength(row.body, 'utf8'));
      if (notes) this.deps.settled?.(mailbox);
    }
    return true;
  }
}
