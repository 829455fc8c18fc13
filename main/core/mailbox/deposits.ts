/**
 * Where our events wait after a mailbox took them (issue #32): "waiting at carol.example for
 * bob.example to fetch it". A deposit settles the outbox row (the mailbox stored the request
 * durably), so the outbox no longer knows; this table does, until the mailbox says the recipient
 * took them (`POST /mailbox/held` with our deposit ids, asked every 30 s while any wait) or the 7
 * days a mailbox keeps things pass (then, if seen held too late, treated as taken late, below).
 * Only for the owner's view, with one exception: a room's host
 * refuses our event once it was signed more than a minute before it takes it (409 depth_too_old),
 * and nothing tells us when it takes a deposit from a mailbox. So a deposit made, or seen still held
 * at the mailbox, when its event was already STALE_AFTER_MS old, and gone since, was taken too late: it is
 * reported (`onTakenLate`), and the rooms re-issue the event and send it again (a host that took
 * it in time after all refuses the re-issued copy as a conflict and keeps its own). Such a deposit is
 * noted (`mailbox_taken_late`) in the transaction that forgets it, and told until the rooms settle
 * it in the transaction that queues it again: told again on the next start or check, so a crash
 * between the two does not lose the message.
 */
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import type { Identity } from '../identity/identity.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { HttpClient } from '../federation/http-client.ts';
import { infoLimited } from '../log/rate-limit.ts';
import { MAILBOX_MAX_AGE_MS, MAX_HELD_REFUSALS } from './mailbox-store.ts';
import { MAX_HELD_IDS } from './wire.ts';
import { RESIGN_AFTER_MS } from '../rooms/ordering.ts';
import { MAILBOX_HELD_PATH, MAILBOX_REFUSALS_CAPABILITY, MAILBOX_WAITING_CAPABILITY } from '../federation/paths.ts';
import { z } from 'zod';
import { REFUSAL_CODE } from './carried-refusals.ts';
import { peerFailure, refusalMeaning } from '../outbox/delivery-outcomes.ts';
import { serverOf } from '../../../shared/identifiers.ts';

/** How often a mailbox is asked which of our deposits it still holds, while some wait. */
export const HELD_CHECK_MS = 30_000;
/**
 * A deposit's week as this node counts it: ten minutes shorter than the mailbox's. The mailbox
 * deletes an item a week after it stamped it (its clean-up runs once a minute); we stamp it when its
 * answer came (a request may take up to its deadline) and judge a held check by the time the check
 * began: in the last moments of our week, "no longer held" could be its expiry, not a take, and
 * was read as delivered. Here such a deposit is past its week already: queued again (or told as
 * taken late), never left to the mailbox's word. (A clock stepped by more than that margin during
 * the week, or a mailbox that lost its items, still reads as a take: "not held" cannot tell them apart.)
 */
export const DEPOSIT_WEEK_HERE_MS = MAILBOX_MAX_AGE_MS - 10 * 60_000;
/**
 * Items a `held` answer names in `more` (taken, their refusals not in that answer) are asked about
 * again at once, at most this many times a check (then at the next one): a mailbox that always
 * says more gets no tighter loop. Each honest answer carries the refusals of at least one item.
 */
export const HELD_MORE_FOLLOW_UPS = 3;
/**
 * A deposit seen held when its event was older than this, and taken since, was taken too late for
 * a room's host (it refuses events signed over 60 s before: rooms/ordering.ts MAX_EVENT_AGE_MS):
 * half that minute, so that clocks apart and the time between two checks do not hide one.
 */
export const STALE_AFTER_MS = RESIGN_AFTER_MS;

/** A deposit its recipient took after our event in it was too old for a room's host. */
export interface TakenLate {
  event_id: string;
  destination: string;
}

import type { WaitingAtMailbox } from '../../../shared/contract/admin/queue.ts';

export interface MailboxDepositsDeps {
  db: Db;
  discovery: Discovery;
  http: HttpClient;
  identity: () => Identity | null;
  log: Logger;
  /**
   * What waits at a mailbox changed (the UI's queue and message states): `gone`, our events no
   * longer waiting there (taken, or past the mailbox's week; or said taken by their recipient to
   * take in later), with their rooms, so the screens that show them ask for them again.
   */
  onChange?: (gone: ReadonlyArray<{ event_id: string; room_id: string }>) => void;
  /** How often mailboxes are asked (default HELD_CHECK_MS). */
  checkMs?: number;
  /**
   * Deposits taken after their event was too old for a room's host (see above): sent again by the
   * rooms, which call `settled` for each one done with. The others are told again later.
   */
  onTakenLate?: (late: TakenLate[], settled: (row: TakenLate) => void) => Promise<void> | void;
  /**
   * A deposit forgotten at the mailbox's week's end that was never seen taken (nor taken late):
   * its event is queued for its destination again, inside the transaction that forgets it. The
   * mailbox may have dropped it, or stopped answering (a dead node): forgotten, it read
   * "delivered" (a helper's audit, 2026-11-28). A destination that has it answers "not inserted".
   */
  requeue?: (destination: string, eventId: string, roomId: string) => void;
  /** After that transaction: the destinations with entries queued again (to deliver to). */
  onRequeued?: (destinations: string[]) => void;
  /**
   * An event of a deposit its recipient refused for good (the mailbox says so: capability
   * `mailbox_refusals`), inside the transaction that forgets the deposit: its entry is written
   * again as failed with the refusal's words (`HTTP 403 not_member`), as a push's refusal would be.
   */
  refused?: (destination: string, eventId: string, roomId: string, error: string, status: number) => void;
}

/**
 * What a mailbox's `held` answer may say the recipient refused (hostile until checked): at most
 * MAX_HELD_REFUSALS, each naming one of the ids asked about (checked below) and a final 4xx; and
 * `more`, items taken whose refusals did not fit this answer (neither held nor gone: asked again).
 */
const heldAnswerSchema = z.object({
  held: z.array(z.string()).max(MAX_HELD_IDS),
  more: z.array(z.string().regex(/^[0-9]{1,15}$/)).max(MAX_HELD_IDS).optional(),
  waiting: z.array(z.string().regex(/^[0-9]{1,15}$/)).max(MAX_HELD_IDS).optional(),
  refused: z.array(z.object({
    id: z.string().regex(/^[0-9]{1,15}$/),
    event_id: z.string().min(1).max(255),
    status: z.number().int().min(400).max(499).refine((status) => status !== 429),
    error: z.string().regex(REFUSAL_CODE),
  })).max(MAX_HELD_REFUSALS).optional(),
});

export const waitingAtWords = (mailbox: string, destination: string, count = 1, taken = false) =>
  taken
    ? `fetched by ${destination} from ${mailbox}, not taken in yet: ${destination} tries ${count === 1 ? 'it' : 'them'} again after a wait`
    : `waiting at ${mailbox} for ${destination} to fetch ${count === 1 ? 'it' : 'them'}`;

export class MailboxDeposits {
  private readonly deps: MailboxDepositsDeps;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly recordStmt;
  private readonly forgetNotesStmt;
  private readonly forgetTakenStmt;
  /** Late deposits told and not yet answered (`event_id destination`): not told twice at once. */
  private readonly telling = new Set<string>();

  constructor(deps: MailboxDepositsDeps) {
    this.deps = deps;
    this.recordStmt = deps.db.prepare(
      `INSERT INTO mailbox_deposits (event_id, destination, mailbox, deposit_id, deposited_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (event_id, destination) DO UPDATE SET mailbox = excluded.mailbox, deposit_id = excluded.deposit_id, deposited_at = excluded.deposited_at`,
    );
    this.forgetNotesStmt = deps.db.prepare('DELETE FROM mailbox_deposits_held WHERE mailbox = ? AND deposit_id = ?');
    this.forgetTakenStmt = deps.db.prepare('DELETE FROM mailbox_deposits_taken WHERE mailbox = ? AND deposit_id = ?');
  }

  /** `mailbox` took the request carrying `eventIds` for `destination`, as its item `depositId`. */
  record(destination: string, mailbox: string, depositId: number, eventIds: readonly string[], now = Date.now()): void {
    // Written even once stopped: a delivery that ends as a deposit while the node shuts down has
    // settled its outbox row, and only this row still knows the events wait (checked at the next start).
    this.deps.db.transaction(() => {
      for (const id of eventIds) this.recordStmt.run(id, destination, mailbox, depositId, now);
      // A new item: nothing said of an item of that id before holds for it (a mailbox whose ids
      // started over; a row a check left behind for a deposit forgotten meanwhile).
      this.forgetNotesStmt.run(mailbox, depositId);
      this.forgetTakenStmt.run(mailbox, depositId);
    })();
    this.schedule();
  }

  /** What waits where (GET /queue `at_mailboxes`): at the mailbox, or taken by the recipient to take in later (`taken`). */
  summary(): WaitingAtMailbox[] {
    return this.deps.db
      .prepare<[], Omit<WaitingAtMailbox, 'waiting' | 'taken'> & { taken: number }>(
        `SELECT d.destination, d.mailbox, COUNT(*) AS count, MIN(d.deposited_at) AS since, t.since IS NOT NULL AS taken FROM mailbox_deposits d
           LEFT JOIN mailbox_deposits_taken t ON t.mailbox = d.mailbox AND t.deposit_id = d.deposit_id
         GROUP BY d.destination, d.mailbox, taken ORDER BY d.destination, d.mailbox, taken`,
      )
      .all()
      .map(({ taken, ...r }) => ({ ...r, ...(taken === 1 ? { taken: true } : {}), waiting: waitingAtWords(r.mailbox, r.destination, r.count, taken === 1) }));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
    this.tellLate(); // what a stop or a crash left before the rooms queued it again
  }

  /** Notes late deposits, inside the transaction that forgets them. */
  private noteLate(late: readonly TakenLate[], now: number): void {
    const note = this.deps.db.prepare('INSERT OR IGNORE INTO mailbox_taken_late (event_id, destination, noted_at) VALUES (?, ?, ?)');
    for (const row of late) note.run(row.event_id, row.destination, now);
  }

  /**
   * Tells the rooms the late deposits noted and not settled (nor being told now), the longest
   * untold first (a thousand that keep failing do not keep newer ones from being told).
   */
  private tellLate(): void {
    const onTakenLate = this.deps.onTakenLate;
    if (!onTakenLate || this.stopped) return;
    let told: TakenLate[];
    const key = (row: TakenLate) => `${row.event_id} ${row.destination}`;
    try {
      const db = this.deps.db;
      told = db.transaction(() => {
        const rows = db.prepare<[], TakenLate>('SELECT event_id, destination FROM mailbox_taken_late ORDER BY told_at, noted_at, event_id LIMIT 1000').all()
          .filter((row) => !this.telling.has(key(row)));
        const now = Date.now();
        const mark = db.prepare('UPDATE mailbox_taken_late SET told_at = ? WHERE event_id = ? AND destination = ?');
        for (const row of rows) mark.run(now, row.event_id, row.destination);
        return rows;
      })();
    } catch {
      return; // the database is closing: told on the next start
    }
    if (told.length === 0) return;
    for (const row of told) this.telling.add(key(row));
    const forget = this.deps.db.prepare('DELETE FROM mailbox_taken_late WHERE event_id = ? AND destination = ?');
    void Promise.resolve()
      .then(() => onTakenLate(told, (row) => forget.run(row.event_id, row.destination)))
      .catch((error: Error) => infoLimited(this.deps.log, 'mailbox_taken_late_failed', { event: 'mailbox_taken_late_failed', error: error.message }, 'sending again what a mailbox held too long failed; tried again later'))
      .finally(() => {
        for (const row of told) this.telling.delete(key(row));
        // One not settled (its re-issue failed) is told again at the next check.
        if (!this.stopped && this.waiting() > 0) this.schedule();
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check()
        .catch((error: Error) => infoLimited(this.deps.log, 'mailbox_held_check_failed', { event: 'mailbox_held_check_failed', error: error.message }, 'could not ask a mailbox what it still holds'))
        .finally(() => {
          if (!this.stopped && this.waiting() > 0) this.schedule();
        });
    }, this.deps.checkMs ?? HELD_CHECK_MS);
    this.timer.unref();
  }

  /** Deposits that wait, and late ones not yet queued again (told again at each check). */
  private waiting(): number {
    try {
      return this.deps.db.prepare<[], { n: number }>('SELECT (SELECT COUNT(*) FROM mailbox_deposits) + (SELECT COUNT(*) FROM mailbox_taken_late) AS n').get()?.n ?? 0;
    } catch {
      return 0; // the database is closing
    }
  }

  /**
   * Writes the entries of the events the recipient refused (as the mailbox says) failed, with the
   * refusal's words: only events of our deposits at that mailbox with that id (a mailbox cannot
   * fail anything it was not given). What a refusal means is refusalMeaning's (delivery-outcomes.ts):
   * one to be sent again late (409 `depth_too_old`: the event waited past what its host takes) is
   * returned in `tooOld`, to be signed again and sent again as one taken late is; one that counts
   * as delivered (409 `event_id_conflict`: the recipient holds another version of that event of
   * ours, a copy signed again after its first version waited, both taken) is left.
   * `failed`: the events failed so (`event_id destination`).
   */
  private failRefused(mailbox: string, refusals: ReadonlyArray<{ id: string; event_id: string; status: number; error: string }>): { failed: Set<string>; tooOld: TakenLate[] } {
    const failed = new Set<string>();
    const tooOld: TakenLate[] = [];
    const refused = this.deps.refused;
    if (!refused || refusals.length === 0) return { failed, tooOld };
    const depositOf = this.deps.db.prepare<[string, number, string], { destination: string; room_id: string }>(
      'SELECT d.destination, e.room_id FROM mailbox_deposits d JOIN federation_events e ON e.event_id = d.event_id WHERE d.mailbox = ? AND d.deposit_id = ? AND d.event_id = ?',
    );
    for (const r of refusals) {
      const row = depositOf.get(mailbox, Number(r.id), r.event_id);
      if (!row || failed.has(`${r.event_id} ${row.destination}`)) continue;
      const meaning = refusalMeaning(r.status, r.error);
      if (meaning === 'delivered') continue;
      if (meaning === 'resend_late') {
        tooOld.push({ event_id: r.event_id, destination: row.destination });
        continue;
      }
      refused(row.destination, r.event_id, row.room_id, peerFailure(r.status, r.error, undefined), r.status);
      failed.add(`${r.event_id} ${row.destination}`);
    }
    if (failed.size > 0) infoLimited(this.deps.log, `mailbox_deposit_refused ${mailbox}`, { event: 'mailbox_deposit_refused', mailbox, events: failed.size }, 'events left at a mailbox were refused by their recipient; marked not delivered');
    return { failed, tooOld };
  }

  /**
   * Asks `mailbox` which of `asked` (our deposits there) it still holds, and what the recipient
   * refused of those taken; forgets those taken (failing the refused entries, noting late ones).
   * `taken`: the event ids no longer waiting there; `more`: the items the answer named in `more`
   * (taken, their refusals not in it: neither held nor gone), to ask about again. Throws when the
   * mailbox cannot be asked.
   */
  private async askHeld(identity: Identity, mailbox: string, asked: readonly number[]): Promise<{ taken: string[]; more: number[]; moved: string[] }> {
    const db = this.deps.db;
    /** The events of deposits said taken by their recipient now (their messages say so). */
    const moved: string[] = [];
    const endpoint = await this.deps.discovery.endpointOf(mailbox);
    // What the recipient refused of those taken, and which it took but keeps to take later, are
    // asked only of a mailbox that says it keeps them (an older one's schema is strict).
    const capabilities = (await this.deps.discovery.documentOf(mailbox).catch(() => null))?.capabilities ?? [];
    let askRefusals = capabilities.includes(MAILBOX_REFUSALS_CAPABILITY);
    let askWaiting = capabilities.includes(MAILBOX_WAITING_CAPABILITY);
    const ask = () => this.deps.http.signed(identity, 'POST', endpoint, MAILBOX_HELD_PATH, JSON.stringify({ ids: asked.map(String), ...(askRefusals ? { refused: true } : {}), ...(askWaiting ? { waiting: true } : {}) }), { destination: mailbox });
    let response = await ask();
    // A mailbox our cached discovery says keeps them, answering 400 to the fields (a downgrade):
    // asked again without them (as the fetcher acks), not left "waiting" until the cache refreshes.
    if ((askRefusals || askWaiting) && response.status === 400) {
      askRefusals = false;
      askWaiting = false;
      response = await ask();
    }
    const answer = heldAnswerSchema.safeParse(response.json);
    if (response.status !== 200 || !answer.success) return { taken: [], more: [], moved };
    // Judged when the mailbox answered, not when the check began: asking several mailboxes, each
    // slowly, can take longer than DEPOSIT_WEEK_HERE_MS's margin (a red team, 2026-12-01).
    const now = Date.now();
    // Past our week by now, "not held" may be the mailbox's expiry, not a take: such a deposit is
    // left to the expiry of the next check (queued again, or told late), never read as delivered.
    const expiredBy = db
      .prepare<[string, string, number], { deposit_id: number }>('SELECT DISTINCT deposit_id FROM mailbox_deposits WHERE mailbox = ? AND deposit_id IN (SELECT value FROM json_each(?)) AND deposited_at < ?')
      .all(mailbox, JSON.stringify(asked), now - DEPOSIT_WEEK_HERE_MS);
    const pastWeek = new Set(expiredBy.map((row) => row.deposit_id));
    const still = new Set(answer.data.held.map(Number));
    // Taken, with refusals left to read: not seen held now (its events would look taken late), not gone yet.
    const more = new Set(askRefusals ? (answer.data.more ?? []).map(Number) : []);
    // Taken by the recipient, which keeps them to take later: neither seen held now (not at the
    // mailbox: their events would look taken late) nor gone (not delivered yet: its last word,
    // a refusal or none, comes once the mailbox no longer holds them).
    const waiting = new Set(askWaiting ? (answer.data.waiting ?? []).map(Number) : []);
    const kept = asked.filter((id) => still.has(id));
    const gone = asked.filter((id) => !still.has(id) && !more.has(id) && !waiting.has(id) && !pastWeek.has(id));
    // Only for deposits asked about and taken (the mailbox's word, about what we left there: checked again below, per event).
    const goneSet = new Set(gone);
    const refusals = askRefusals ? (answer.data.refused ?? []).filter((r) => goneSet.has(Number(r.id))) : [];
    const taken = db.transaction(() => {
      const seen = db.prepare('INSERT INTO mailbox_deposits_held (mailbox, deposit_id, seen_at) VALUES (?, ?, ?) ON CONFLICT (mailbox, deposit_id) DO UPDATE SET seen_at = excluded.seen_at');
      for (const id of kept) seen.run(mailbox, id, now);
      // Said taken by the recipient, to take in later: the message says so (never back to "at the mailbox").
      // Only for a deposit still recorded (a check beside this one may have forgotten it meanwhile).
      const tookIn = db.prepare<[string, number, number, string, number]>(
        'INSERT OR IGNORE INTO mailbox_deposits_taken (mailbox, deposit_id, since) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM mailbox_deposits WHERE mailbox = ? AND deposit_id = ?)',
      );
      const eventsOf = db.prepare<[string, number], { event_id: string }>('SELECT event_id FROM mailbox_deposits WHERE mailbox = ? AND deposit_id = ?');
      for (const id of asked) {
        if (waiting.has(id) && tookIn.run(mailbox, id, now, mailbox, id).changes > 0) moved.push(...eventsOf.all(mailbox, id).map((row) => row.event_id));
      }
      if (gone.length === 0) return [];
      const list = gone.map(() => '?').join(',');
      const late = db
        .prepare<unknown[], TakenLate>(
          `SELECT d.event_id, d.destination FROM mailbox_deposits d JOIN federation_events e ON e.event_id = d.event_id
             LEFT JOIN mailbox_deposits_held h ON h.mailbox = d.mailbox AND h.deposit_id = d.deposit_id
           WHERE d.mailbox = ? AND d.deposit_id IN (${list}) AND MAX(COALESCE(h.seen_at, 0), d.deposited_at) - e.origin_ts > ?`,
        )
        .all(mailbox, ...gone, STALE_AFTER_MS);
      // A refusal is the recipient's verdict: failed, not sent again as taken late; one as too
      // old is sent again (signed again), whether or not it looked late from here.
      const { failed, tooOld } = this.failRefused(mailbox, refusals);
      this.noteLate([...late.filter((row) => !failed.has(`${row.event_id} ${row.destination}`)), ...tooOld], now);
      const forgotten = db.prepare<unknown[], { event_id: string }>(`DELETE FROM mailbox_deposits WHERE mailbox = ? AND deposit_id IN (${list}) RETURNING event_id`).all(mailbox, ...gone);
      db.prepare(`DELETE FROM mailbox_deposits_held WHERE mailbox = ? AND deposit_id IN (${list})`).run(mailbox, ...gone);
      db.prepare(`DELETE FROM mailbox_deposits_taken WHERE mailbox = ? AND deposit_id IN (${list})`).run(mailbox, ...gone);
      return forgotten.map((row) => row.event_id);
    })();
    this.tellLate();
    // Only ids we asked about (the mailbox's word is about those only).
    return { taken, more: asked.filter((id) => more.has(id)), moved };
  }

  /** Asks each mailbox which of our deposits it still holds; forgets the rest (taken, or expired there). */
  async check(now = Date.now()): Promise<void> {
    const identity = this.deps.identity();
    if (!identity) return;
    this.tellLate(); // any a failure left
    // Past the mailbox's week, a deposit is gone there, taken or not. One the mailbox was last seen
    // holding when its event was already too old for a host (as for a late one, below) was not
    // taken in time: a message its destination never got. Told as taken late when the destination
    // hosts its room (the rooms re-issue it and send it again); for a member of a room we host,
    // queued for it again as below (it read "delivered" before), never simply forgotten. One never seen held that late may have been
    // taken in time (our checks failed meanwhile), or dropped: its event (not re-issued: a copy
    // the destination has would be refused as a conflict) is queued for its destination again
    // (`requeue`), which answers "not inserted" if it has it, or "too old" (then re-issued) if not.
    const db = this.deps.db;
    const goneIds = new Set<string>();
    const requeued = new Set<string>();
    let changed = db.transaction(() => {
      // Only a room's host refuses an event as too old (and only it is sent a re-issue): seen held
      // that late at a mailbox for anyone else (a member of a room we host), it may never have
      // been taken, and nothing re-issues it: queued again as one never seen taken is, below.
      const expired = db
        .prepare<[number, number], TakenLate & { room_id: string }>(
          `SELECT DISTINCT d.event_id, d.destination, e.room_id FROM mailbox_deposits d JOIN federation_events e ON e.event_id = d.event_id
             LEFT JOIN mailbox_deposits_held h ON h.mailbox = d.mailbox AND h.deposit_id = d.deposit_id
           WHERE d.deposited_at < ? AND MAX(COALESCE(h.seen_at, 0), d.deposited_at) - e.origin_ts > ?`,
        )
        .all(now - DEPOSIT_WEEK_HERE_MS, STALE_AFTER_MS)
        .filter((row) => serverOf(row.room_id) === row.destination)
        .map(({ event_id, destination }) => ({ event_id, destination }));
      this.noteLate(expired, now);
      if (this.deps.requeue) {
        const late = new Set(expired.map((row) => `${row.event_id} ${row.destination}`));
        const unconfirmed = db
          .prepare<[number], TakenLate & { room_id: string }>('SELECT DISTINCT d.event_id, d.destination, e.room_id FROM mailbox_deposits d JOIN federation_events e ON e.event_id = d.event_id WHERE d.deposited_at < ?')
          .all(now - DEPOSIT_WEEK_HERE_MS)
          .filter((row) => !late.has(`${row.event_id} ${row.destination}`));
        for (const row of unconfirmed) {
          this.deps.requeue(row.destination, row.event_id, row.room_id);
          requeued.add(row.destination);
        }
      }
      const forgottenIds = db.prepare<[number], { event_id: string }>('DELETE FROM mailbox_deposits WHERE deposited_at < ? RETURNING event_id').all(now - DEPOSIT_WEEK_HERE_MS);
      for (const row of forgottenIds) goneIds.add(row.event_id);
      const forgotten = forgottenIds.length;
      if (forgotten > 0) {
        db.prepare('DELETE FROM mailbox_deposits_held WHERE NOT EXISTS (SELECT 1 FROM mailbox_deposits d WHERE d.mailbox = mailbox_deposits_held.mailbox AND d.deposit_id = mailbox_deposits_held.deposit_id)').run();
        db.prepare('DELETE FROM mailbox_deposits_taken WHERE NOT EXISTS (SELECT 1 FROM mailbox_deposits d WHERE d.mailbox = mailbox_deposits_taken.mailbox AND d.deposit_id = mailbox_deposits_taken.deposit_id)').run();
      }
      return forgotten;
    })();
    if (requeued.size > 0) this.deps.onRequeued?.([...requeued]);
    this.tellLate();
    const byMailbox = this.deps.db.prepare<[], { mailbox: string; deposit_id: number }>('SELECT DISTINCT mailbox, deposit_id FROM mailbox_deposits ORDER BY mailbox, deposit_id').all();
    const ids = new Map<string, number[]>();
    for (const row of byMailbox) ids.set(row.mailbox, [...(ids.get(row.mailbox) ?? []), row.deposit_id]);
    for (const [mailbox, all] of ids) {
      if (this.stopped) return;
      for (let start = 0; start < all.length; start += MAX_HELD_IDS) {
        // Items named in `more` (taken, their refusals not in that answer) are asked about again at
        // once, not at the next check (their messages would read "waiting at" that long), at most
        // HELD_MORE_FOLLOW_UPS times a check: a mailbox that always says more gets no tighter loop.
        let asked = all.slice(start, start + MAX_HELD_IDS);
        for (let round = 0; asked.length > 0 && round <= HELD_MORE_FOLLOW_UPS && !this.stopped; round++) {
          try {
            const answered = await this.askHeld(identity, mailbox, asked);
            changed += answered.taken.length + answered.moved.length;
            for (const id of [...answered.taken, ...answered.moved]) goneIds.add(id);
            asked = answered.more;
          } catch {
            break; // that mailbox is not reachable now: asked again next time
          }
        }
      }
    }
    if (changed > 0) {
      const gone = goneIds.size === 0 ? [] : db.prepare<[string], { event_id: string; room_id: string }>('SELECT event_id, room_id FROM federation_events WHERE event_id IN (SELECT value FROM json_each(?))').all(JSON.stringify([...goneIds]));
      this.deps.onChange?.(gone);
    }
  }
}
