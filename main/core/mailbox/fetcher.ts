/**
 * A friend's node as a mailbox (issue #32), the recipient's side: while nobody can reach this node
 * (pull mode), it fetches from each peer what other peers left there for it (`GET /mailbox`,
 * long-poll), hands each carried request to its own federation listener exactly as it was signed
 * (self-dispatch.ts: the same signature, origin, destination and route checks as a direct
 * request), and acknowledges the page once every request of it was taken. A page is asked again
 * from the stored cursor after a failure or a restart, so nothing is lost; what was taken already
 * is a no-op the second time (an event stored once is not stored again).
 *
 * Each fetch in pull mode carries our signed choice of that mailbox, good for a week
 * (choice.ts): senders whose pushes to us fail leave their requests there as long as it stands,
 * also once we receive directly again (a restart, a short outage). So outside pull mode the node
 * goes on fetching from the mailboxes it chose in the last week, without choosing them again
 * (no choice sent, the time of its last choice kept): before, what was left there after it went
 * back to receiving directly waited for a week, or for good.
 */
import { z } from 'zod';
import { HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { SignedPageLoop, mostlyNew, type PageSource, type SignedPageLoopDeps } from '../federation/signed-page-loop.ts';
import { PageAcks, type AckRefusal } from '../federation/page-acks.ts';
import { StoredPullRefusals } from '../pull/pull-refusals.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { CARRIED_PATHS, MAX_MAILBOX_ITEMS, WAITING_NOTE, isListNote } from './wire.ts';
import { MAILBOX_MAX_AGE_MS } from './mailbox-store.ts';
import type { CarriedRequest, DispatchAnswer } from './self-dispatch.ts';
import { MAILBOX_ACK_PATH, MAILBOX_PATH, MAILBOX_REFUSALS_CAPABILITY, MAILBOX_WAITING_CAPABILITY } from '../federation/paths.ts';
import { CHOICE_LIFETIME_MS, ChoiceSigner, MAILBOX_CHOICE_HEADER } from './choice.ts';
import { CarriedRetries, type KeepResult, type WaitingHere } from './carried-retries.ts';
import { carriedEventIds } from './carried-refusals.ts';
import { failedBeforeSending } from '../federation/address-policy.ts';

/** A mailbox that restarted is asked again within this long (a failed fetch costs one connection attempt). */
const MAX_BACKOFF_MS = 10_000;
/** Outside pull mode, a chosen mailbox that fails is asked again within this long (sooner once it is seen). */
const CHOSEN_MAX_BACKOFF_MS = 5 * 60_000;
const CARRIED = new Set(Object.values(CARRIED_PATHS));

const itemSchema = z.strictObject({
  id: z.string().regex(/^[0-9]{1,15}$/),
  from: z.string().refine(isServerName, 'not a server name'),
  path: z.string().refine((p) => CARRIED.has(p), 'not a request a mailbox carries'),
  key_id: z.string().regex(KEY_ID),
  timestamp: z.string().regex(/^[0-9]{1,16}$/),
  signature: z.string().regex(HEX_SIGNATURE),
  body: z.string().max(2 * 1024 * 1024),
});
// Every item up to the page's cursor: the refusals kept of one after it would never be named in an ack (acks go up to a cursor), and linger.
const pageSchema = z
  .strictObject({ items: z.array(itemSchema).max(MAX_MAILBOX_ITEMS), cursor: z.string().regex(/^[0-9]{1,15}$/) })
  .refine((page) => page.items.every((item) => Number(item.id) <= Number(page.cursor)), 'an item after the page\'s cursor');

export interface MailboxFetcherDeps extends SignedPageLoopDeps {
  /** Hands one carried request to our own federation listener. */
  dispatch: (request: CarriedRequest) => Promise<DispatchAnswer>;
  /** Runs a write and resolves once it is on disk (the group commit). */
  durably: (write: () => void) => Promise<void>;
  /** Whether a request signature was taken before (the replay cache). */
  seen: (signature: string) => boolean;
  /**
   * Where the events of carried requests refused for good here wait for an ack naming them
   * (mailbox_refusals_out): the one our listener also writes to (verify-signed-request.ts). Made
   * here when not given.
   */
  refusals?: StoredPullRefusals;
}

/**
 * The page waits at the mailbox when what waits here is full (carried-retries.ts): asked again
 * later (what was taken of it answers 409, taken before); nothing is dropped.
 */
const FULL = { taken: false, waitMs: 60_000, error: 'too many carried requests wait here to be taken; the rest stays at the mailbox for now' } as const;

/** Where the recipient keeps the refusals it names in its acks to mailboxes (one per node: the fetcher's and our listener's). */
export function mailboxRefusalsOut(db: MailboxFetcherDeps['db']): StoredPullRefusals {
  return new StoredPullRefusals(db, { table: 'mailbox_refusals_out', withIds: true, maxAgeMs: MAILBOX_MAX_AGE_MS });
}

export interface MailboxSourceState {
  server_name: string;
  cursor: number;
  last_fetch_at: number | null;
  last_error: string | null;
}

type MailboxPage = z.infer<typeof pageSchema>;

export class MailboxFetcher {
  private readonly deps: MailboxFetcherDeps;
  /** Pull mode: every allowed peer, choosing it. */
  private readonly pages: SignedPageLoop<MailboxPage>;
  /** Outside pull mode: the mailboxes chosen in the last week, not chosen again. */
  private readonly chosen: SignedPageLoop<MailboxPage>;
  /** Federation runs (open), and whether in pull mode (start/stop). */
  private isOpen = false;
  private pullMode = false;
  /** The loops switching (one stops before the other starts: never two on one mailbox's cursor). */
  private switching: Promise<void> = Promise.resolve();
  /** Pull mode: mailboxes noted as chosen when our choice was sent, not answered yet, with the time noted before (null: none). */
  private readonly unconfirmed = new Map<string, number | null>();
  /** Pull mode: peers whose last request failed (no note at send until one answers 200). */
  private readonly failing = new Set<string>();
  /** Our signed statement that we chose each mailbox we fetch from (choice.ts), sent with every fetch. */
  private readonly choices = new ChoiceSigner();
  /** Carried requests answered "not yet", kept here and handed over again (carried-retries.ts). */
  private readonly retries: CarriedRetries;
  /** Events of carried requests refused for good here, by mailbox and item id, until an ack naming them is answered. */
  private readonly refusals: StoredPullRefusals;
  /** Each mailbox's acks while its loop runs: a request kept here and settled later is named in one (renote). */
  private readonly acksOf = new Map<string, PageAcks>();

  constructor(deps: MailboxFetcherDeps) {
    this.deps = deps;
    this.refusals = deps.refusals ?? mailboxRefusalsOut(deps.db);
    const { log } = deps;
    this.retries = new CarriedRetries({
      db: deps.db, log, dispatch: deps.dispatch, durably: deps.durably, seen: deps.seen, refusals: this.refusals,
      // Its item is named settled in the next ack to that mailbox (at its loop's next start, if none runs).
      settled: (mailbox) => this.acksOf.get(mailbox)?.renote(),
      ...(deps.onChange ? { onChange: deps.onChange } : {}),
    });
    const allowed = () => deps.trust.list().filter((s) => s.trust === 'allow').map((s) => s.server_name);
    const chosenSince = deps.db.prepare<[number], { server_name: string }>('SELECT server_name FROM mailbox_chosen WHERE chosen_at > ?');
    // A mailbox is noted as chosen when our choice is sent to it, at most once a minute each (a
    // long-poll waits up to 25 s: a node stopped during its first one has chosen it all the
    // same). Every allowed peer is asked in pull mode, and one that does not answer 200 (offline,
    // behind a router, no mailbox) holds nothing for us: that note is taken back, and none is
    // made at send while its requests fail, only when it answers 200 again. Else the loop below
    // would ask it, for the week after, every few minutes.
    const noteChosen = deps.db.prepare('INSERT INTO mailbox_chosen (server_name, chosen_at) VALUES (@server, @now) ON CONFLICT (server_name) DO UPDATE SET chosen_at = excluded.chosen_at');
    const chosenAt = deps.db.prepare<[string], number>('SELECT chosen_at FROM mailbox_chosen WHERE server_name = ?').pluck();
    const forgetChosen = deps.db.prepare('DELETE FROM mailbox_chosen WHERE server_name = ?');
    const notedAt = new Map<string, number>();
    const { unconfirmed, failing } = this;
    const note = (server: string): boolean => {
      const now = Date.now();
      if (now - (notedAt.get(server) ?? 0) < 60_000) return false;
      notedAt.set(server, now);
      noteChosen.run({ server, now });
      return true;
    };
    /** A request that failed; one that never reached the peer (no connection) takes the note back. */
    const takeBack = (server: string, reached: boolean) => {
      failing.add(server);
      if (reached || !unconfirmed.has(server)) return;
      const before = unconfirmed.get(server)!;
      unconfirmed.delete(server);
      notedAt.delete(server);
      if (before === null) forgetChosen.run(server);
      else noteChosen.run({ server, now: before });
    };
    const source = this.source();
    this.pages = new SignedPageLoop(deps, {
      ...source,
      headers: (identity, server) => {
        if (!failing.has(server) && !unconfirmed.has(server)) {
          const before = chosenAt.get(server) ?? null;
          if (note(server)) unconfirmed.set(server, before);
        }
        return { [MAILBOX_CHOICE_HEADER]: this.choices.header(identity, server) };
      },
      answered: (server) => {
        failing.delete(server);
        unconfirmed.delete(server);
        note(server);
      },
      notServed: (server, response) => {
        const why = source.notServed(server, response);
        // It answered: a refusal (no mailbox, switched off, our signature or choice refused, a
        // limit: any 4xx) means it did not take our choice.
        if (why !== null || (response.status >= 400 && response.status < 500)) takeBack(server, false);
        return why;
      },
      failed: (server, error, failures) => {
        takeBack(server, !failedBeforeSending(error));
        return source.failed(server, error, failures);
      },
      peers: allowed,
    });
    // A peer noted as chosen that has no mailbox (any more: 404, an older node, a reference
    // server) holds nothing for us: not asked again, every 10 min for the rest of the week.
    this.chosen = new SignedPageLoop(deps, {
      ...source,
      // Deposits while our choice stands are rare, and a mailbox that is down holds none we can
      // fetch: one that fails is asked again within 5 minutes (at once when it is seen again).
      maxBackoffMs: CHOSEN_MAX_BACKOFF_MS,
      notServed: (server, response) => {
        const why = source.notServed(server, response);
        // A federation server's own 404 (JSON with an error), not a proxy's page during maintenance.
        if (why !== null && response.status === 404 && typeof (response.json as { error?: unknown } | undefined)?.error === 'string') forgetChosen.run(server);
        return why;
      },
      recordsFetch: false,
      peers: () => {
        const chosen = new Set(chosenSince.all(Date.now() - CHOICE_LIFETIME_MS).map((r) => r.server_name));
        return allowed().filter((s) => chosen.has(s));
      },
    });
  }

  /** What both loops share: the page, how it is taken, the log lines. */
  private source(): Omit<PageSource<MailboxPage>, 'peers'> {
    const { deps } = this;
    const { log } = deps;
    return {
      name: 'mailbox', table: 'mailbox_sources', fetchedColumn: 'last_fetch_at', pagePath: MAILBOX_PATH, ackPath: MAILBOX_ACK_PATH, limit: MAX_MAILBOX_ITEMS, maxBackoffMs: MAX_BACKOFF_MS,
      refusals: this.refusals,
      crashed: (server, error) => log.error({ event: 'mailbox_fetcher_crashed', server, err: error }, 'mailbox fetch loop failed'),
      notServed: (server, response) => {
        const code = (response.json as { error?: unknown } | undefined)?.error;
        return response.status === 404 || (response.status === 403 && code === 'mailbox_off') ? `${server} does not serve as a mailbox (HTTP ${response.status}); asking again in 10 min` : null;
      },
      read: (response) => {
        const code = (response.json as { error?: unknown } | undefined)?.error;
        if (response.status !== 200) throw new Error(`mailbox answered HTTP ${response.status}${typeof code === 'string' ? ` ${cleanText(code, 60)}` : ''}`);
        const parsed = pageSchema.safeParse(response.json);
        if (!parsed.success) throw new Error('mailbox answer is not {items, cursor}');
        return { page: parsed.data, cursor: Number(parsed.data.cursor), empty: parsed.data.items.length === 0 };
      },
      taker: (server, ack) => {
        const acks = new PageAcks((cursor, refused) => this.ack(server, ack, cursor, refused), server, 'mailbox', log, { refusals: this.refusals });
        this.acksOf.set(server, acks);
        return {
          resume: (cursor) => acks.resume(cursor),
          // In order: one page at a time is taken.
          take: async (page) => {
            // Only a page that brought mostly news (items new here at least as many as the others:
            // copies, refusals, requests kept to be handed over later) has the next one asked at
            // once (signed-page-loop.ts paces the others). A kept request is not news: nothing
            // checked it yet (one behind a waiting request of its depositor is kept unread), and a
            // mailbox serving such pages, or pages of copies answered 2xx, or of one new item
            // among junk, had them asked without a pause (a helper's review, 2026-11-27).
            let news = 0;
            let rest = 0;
            /** What was refused for good here, by item (kept with the page's cursor, named in the ack that covers it). */
            const refused: AckRefusal[] = [];
            for (const item of page.items) {
              const carried: CarriedRequest = { from: item.from, path: item.path, keyId: item.key_id, timestamp: item.timestamp, signature: item.signature, body: item.body, mailbox: server, itemId: item.id };
              // Behind requests of its depositor through this mailbox that wait here: it waits too (the order is kept).
              if (this.retries.waiting(server, item.from)) {
                const kept = await this.retries.keep(server, carried, null);
                if (kept === 'full') return FULL;
                this.noteKept(server, item.id, carried, kept, refused);
                rest++;
                continue;
              }
              const answer = await deps.dispatch(carried);
              for (const r of answer.refused ?? []) refused.push({ id: item.id, ...r });
              // Not yet (a limit here, not checkable now, a failure here): kept here and handed over
              // again after the wait, without holding the other depositors' requests (carried-retries.ts).
              if (answer.notYet) {
                const kept = await this.retries.keep(server, carried, answer);
                if (kept === 'full') return FULL;
                this.noteKept(server, item.id, carried, kept, refused);
                rest++;
                continue;
              }
              news += answer.taken;
              rest += answer.items - answer.taken;
              // Final either way: a refusal here is what a direct push would have got (409: taken before).
              if (answer.status >= 400 && answer.status !== 409) {
                warnLimited(log, `mailbox_item_refused ${item.from}`, { event: 'mailbox_item_refused', mailbox: server, from: item.from, status: answer.status, error: answer.error }, 'a request carried by a mailbox was refused');
              }
            }
            return { taken: true, fruitful: mostlyNew(news, news + rest), refused };
          },
          taken: (page, next) => {
            // Off the critical path (the next fetch asks after `next` whatever the mailbox deleted),
            // one at a time, and a failed one is sent again (page-acks.ts): the mailbox deletes what
            // it carried for us only on an ack, and no page may follow to carry a later one.
            acks.storedUpTo(next, page.items.length, true);
            if (page.items.length > 0) infoLimited(log, `mailbox_fetched ${server}`, { event: 'mailbox_fetched', mailbox: server, items: page.items.length }, 'took requests left for this node at a mailbox');
          },
          close: () => {
            if (this.acksOf.get(server) === acks) this.acksOf.delete(server);
            return acks.close();
          },
        };
      },
      failed: (server, error, failures) => {
        const message = cleanText(error.message, PEER_TEXT_MAX);
        infoLimited(log, `mailbox_fetch_failed ${server}`, { event: 'mailbox_fetch_failed', mailbox: server, error: message, failures }, 'mailbox fetch failed; retrying');
        return message;
      },
    };
  }

  /**
   * What a page's item kept here to hand over later adds to the ack that covers it: a `waiting`
   * note (its mailbox keeps it until we name it settled: its depositor does not read it as
   * delivered meanwhile). One not kept (stale, or its depositor's queue here full: final) is
   * refused for good, its events named as refusals; one taken before is simply taken.
   */
  private noteKept(mailbox: string, id: string, carried: CarriedRequest, kept: KeepResult, refused: AckRefusal[]): void {
    // One kept already: waiting only if kept from this item (the page asked again after a crash),
    // not a copy of it from another mailbox (named settled only there).
    if (kept === 'kept' || (kept === 'known' && this.retries.keepsItem(mailbox, Number(id)))) refused.push({ id, ...WAITING_NOTE });
    else if (kept === 'stale' || kept === 'queue_full') {
      for (const eventId of carriedEventIds(carried.path, carried.body)) refused.push({ id, event_id: eventId, status: 403, error: kept === 'stale' ? 'stale_timestamp' : 'queue_full' });
    }
  }

  /**
   * Acknowledges `cursor` at `server`, naming the events refused here when it takes them (its
   * discovery lists MAILBOX_REFUSALS_CAPABILITY; an older one answers 400 to the field), and the
   * items kept here to take later, and settled since, when it keeps them
   * (MAILBOX_WAITING_CAPABILITY; an older one deletes them at the ack, as before). One that lists
   * them and still answers 400 gets the plain cursor: an ack it never takes would hold every item
   * it keeps for us; it then counts those events as delivered, its own doing.
   */
  private async ack(server: string, ack: (cursor: number, refused?: readonly AckRefusal[], lists?: Readonly<Record<string, readonly string[]>>) => Promise<void>, cursor: number, notes: readonly AckRefusal[]): Promise<void> {
    if (notes.length === 0) return ack(cursor);
    const { capabilities } = await this.deps.discovery.documentOf(server);
    const refused = capabilities.includes(MAILBOX_REFUSALS_CAPABILITY) ? notes.filter((note) => isListNote(note) === null) : [];
    const lists: Record<string, string[]> = {};
    if (capabilities.includes(MAILBOX_WAITING_CAPABILITY)) {
      for (const note of notes) {
        const list = isListNote(note);
        if (list !== null && note.id !== undefined) (lists[list] ??= []).push(note.id);
      }
    }
    if (refused.length === 0 && Object.keys(lists).length === 0) return ack(cursor);
    const badRequest = (error: unknown) => {
      if ((error as { status?: unknown }).status !== 400) throw error;
    };
    try {
      await ack(cursor, refused, lists);
    } catch (error) {
      badRequest(error);
      warnLimited(this.deps.log, `mailbox_refusals_refused ${server}`, { event: 'mailbox_refusals_refused', mailbox: server, refused: refused.length }, 'a mailbox refused the refusals or waiting items named in our ack; acknowledged without them (their senders will read them as delivered)');
      // The lists alone first (the refusals may be what it refused), then the plain cursor.
      if (refused.length > 0 && Object.keys(lists).length > 0) {
        try {
          return await ack(cursor, [], lists);
        } catch (again) {
          badRequest(again);
        }
      }
      await ack(cursor);
    }
  }

  sources(): MailboxSourceState[] {
    return this.pages.sources<MailboxSourceState>();
  }

  /** Requests fetched from mailboxes that wait here to be taken, per depositor (carried-retries.ts). */
  waitingHere(): WaitingHere[] {
    return this.retries.waitingHere();
  }

  /** Federation runs: fetching from the mailboxes chosen lately, unless in pull mode. */
  open(): void {
    this.isOpen = true;
    // Refusals kept for a mailbox we no longer fetch from go after a week (its items are gone there by then).
    this.refusals.purge();
    this.retries.start();
    this.switchTo(this.pullMode ? this.pages : this.chosen);
  }

  /** Federation stops: no more fetching; resolves once every loop ended. */
  async close(): Promise<void> {
    this.isOpen = false;
    this.switchTo(null);
    await Promise.all([this.switching, this.retries.stop()]);
  }

  /** Pull mode (nobody reaches us): from every allowed peer, choosing it (once federation runs). */
  start(): void {
    this.pullMode = true;
    this.switchTo(this.pages);
  }

  /** Pull mode ends: back to the mailboxes chosen lately while federation runs. */
  async stop(): Promise<void> {
    this.pullMode = false;
    this.switchTo(this.isOpen ? this.chosen : null);
    await this.switching;
  }

  /**
   * Stops the loop that runs (if not `next`), then starts `next`, only while federation runs (a
   * pull mode begun before `open` starts with it; one begun during shutdown does not). A failed
   * switch is logged and the next one still runs.
   */
  private switchTo(next: SignedPageLoop<MailboxPage> | null): void {
    this.switching = this.switching
      .then(async () => {
        for (const loop of [this.pages, this.chosen]) if (loop !== next && loop.active) await loop.stop();
        // Pull mode over: its notes stand (a request under way when it stopped may have reached
        // its mailbox), and what failed then says nothing about the next pull mode.
        if (!this.pages.active) {
          this.unconfirmed.clear();
          this.failing.clear();
        }
        // Only if still wanted once the other stopped (a later switch may have changed it).
        const wanted = !this.isOpen ? null : this.pullMode ? this.pages : this.chosen;
        if (next !== null && next === wanted && !next.active) next.start();
      })
      .catch((error: Error) => this.deps.log.error({ event: 'mailbox_fetcher_crashed', err: error }, 'mailbox fetch loops failed to switch'));
  }
}

