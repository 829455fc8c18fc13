/**
 * Pull mode, receiving side (issue #15): a node nobody can reach asks each of its peers for the
 * events they queued for it (`GET /pull`, long-poll) and stores them through the same chain as a
 * push — verify (EventIngest.verify: route, content limits, signature) → authorize → store
 * (EventIngest.storeMany, hooks of the rooms) — in the order served. The page's cursor is written
 * once the page is stored (not when an event of it waits for a quota here: the page is asked
 * again after Retry-After), and acknowledged (`POST /pull/ack`) only after that commit; so a puller killed at any point neither loses an event (the peer deletes rows
 * only on ack) nor applies one twice (it asks from its stored cursor, acknowledges that cursor
 * again at start, and storing a known event is a no-op).
 *
 * Throughput (docs/PERFORMANCE.md, "Pull mode"): the next page is asked for as soon as a page
 * arrives, so the peer reads and serializes it (or long-polls) while this node verifies and stores
 * the current one; acknowledgements go off the critical path and are coalesced while a backlog
 * drains (federation/page-acks.ts). Asking ahead is safe: the peer deletes rows only on an ack, and an ack
 * names only a cursor already committed here; a page that could not be stored drops the page
 * asked ahead and asks again from the stored cursor.
 *
 * Events refused for good here (a 4xx verdict: a removed member's message, an edit of a message we
 * do not have) are skipped, as a push of them would fail; the ack that covers their page names them
 * (`refused`), so the peer marks them failed, "not delivered", instead of delivered — to a peer
 * that advertises PULL_REFUSALS_CAPABILITY (an older one answers 400 to the field: it is sent the
 * plain cursor, and takes them as delivered). They wait for that ack on disk, saved with the page's
 * cursor (pull-refusals.ts): a crash between storing a page and its ack leaves them for the first
 * ack after the restart.
 */
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { HttpError } from '../errors.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { receivedOutcome, type EventIngest, type ReceivedOutcome, type VerifiedEvent } from '../federation/event-ingest.ts';
import { SignedPageLoop, mostlyNew, type PageTaker, type SignedPageLoopDeps } from '../federation/signed-page-loop.ts';
import { HELD_NOTE, isHeldNote, PageAcks, type AckRefusal } from '../federation/page-acks.ts';
import { StoredPullRefusals } from './pull-refusals.ts';
import type { QuotaWait } from '../trust/storage-quota.ts';
import { fetchedEventFailure, fetchedEventId, fetchedEventOrigin, givenUpUnchecked, isFinalRefusal, UncheckedRetries } from '../federation/fetched-event-failure.ts';
import { MAX_PULL_EVENTS } from './routes.ts';
import { PULL_ACK_PATH, PULL_HELD_CAPABILITY, PULL_PATH, PULL_REFUSALS_CAPABILITY } from '../federation/paths.ts';

/** A pulling peer that fails is asked again after at most this long. */
const MAX_BACKOFF_MS = 60_000;

export interface PullerDeps extends SignedPageLoopDeps {
  ingest: EventIngest;
  /**
   * Takes a pulled event that invites one of our users (true), or leaves it to the ingest chain
   * (false); throws when it could not be stored now (the page is asked again).
   */
  receiveInvite?: (server: string, raw: unknown) => false | Promise<'taken' | 'known'>;
  /** Told about each pulled event (metrics: received events by result). */
  onReceived?: (outcome: ReceivedOutcome) => void;
  /** How long an event that cannot be checked is asked again before it is given up (UNCHECKED_RETRY_FOR_MS unless given: tests). */
  uncheckedForMs?: number;
}

export interface PullSourceState {
  server_name: string;
  cursor: number;
  last_pull_at: number | null;
  last_error: string | null;
}

/** A backlog of at least this many full pages in a row is logged when drained (with its counts). */
const BACKLOG_PAGES = 2;

/** A page as `GET /pull` answers it. */
type PullPage = { events: unknown[] };

export class Puller {
  private readonly deps: PullerDeps;
  private readonly pages: SignedPageLoop<PullPage>;
  /** Pulled events that could not be checked yet: the page is asked again while their window lasts. */
  private readonly unchecked: UncheckedRetries;
  /** Refusals of stored pages until an ack naming them is answered (on disk). */
  private readonly refusals: StoredPullRefusals;

  constructor(deps: PullerDeps) {
    this.deps = deps;
    this.unchecked = new UncheckedRetries(deps.uncheckedForMs);
    this.refusals = new StoredPullRefusals(deps.db);
    this.pages = new SignedPageLoop(deps, {
      name: 'pull', table: 'pull_sources', fetchedColumn: 'last_pull_at', pagePath: PULL_PATH, ackPath: PULL_ACK_PATH, limit: MAX_PULL_EVENTS, maxBackoffMs: MAX_BACKOFF_MS,
      refusals: this.refusals,
      peers: () => deps.trust.list().filter((s) => s.trust === 'allow' || s.trust === 'quarantine').map((s) => s.server_name),
      crashed: (server, error) => deps.log.error({ event: 'puller_crashed', server, err: error }, 'pull loop failed'),
      notServed: (server, response) => (response.status === 404 ? `${server} does not serve pull mode (HTTP 404); asking again in 10 min` : null),
      read: (response) => {
        if (response.status !== 200) throw new Error(`pull answered HTTP ${response.status}${typeof (response.json as { message?: unknown } | undefined)?.message === 'string' ? `: ${cleanText((response.json as { message: string }).message, PEER_TEXT_MAX)}` : ''}`);
        const page = response.json as { events?: unknown; cursor?: unknown } | undefined;
        if (!page || !Array.isArray(page.events) || typeof page.cursor !== 'string' || !/^[0-9]{1,15}$/.test(page.cursor)) throw new Error('pull answer is not {events, cursor}');
        // We asked for at most MAX_PULL_EVENTS: a longer page is not verified (its cursor may cover events we would not store).
        if (page.events.length > MAX_PULL_EVENTS) throw new Error(`pull answer holds ${page.events.length} events; at most ${MAX_PULL_EVENTS} were asked for`);
        return { page: { events: page.events }, cursor: Number(page.cursor), empty: page.events.length === 0 };
      },
      taker: (server, ack) => this.taker(server, ack),
      failed: (server, error, failures) => {
        // Limited: a source that fails every other page is retried at once each time.
        // Its words may be the peer's (a certificate's names in a TLS error): cut and escaped, as the mailbox fetcher's.
        const words = cleanText(error.message, PEER_TEXT_MAX);
        infoLimited(deps.log, `pull_failed ${server}`, { event: 'pull_failed', server, error: words, failures }, 'pull failed; retrying');
        return words;
      },
    });
  }

  get active(): boolean {
    return this.pages.active;
  }

  /** Starts pulling from every allowed peer (and from peers added later). */
  start(): void {
    this.pages.start();
  }

  /** Stops every loop; a page being stored finishes its commit first. */
  stop(): Promise<void> {
    return this.pages.stop();
  }

  sources(): PullSourceState[] {
    return this.pages.sources<PullSourceState>();
  }

  /** One peer's pages: stored, then acknowledged off the critical path (federation/page-acks.ts); a drained backlog is logged. */
  private taker(server: string, ack: (cursor: number, refused?: readonly AckRefusal[], lists?: Readonly<Record<string, readonly string[]>>) => Promise<void>): PageTaker<PullPage> {
    const { log } = this.deps;
    // Refusals go only to a peer that takes them (its discovery says so); an older one gets the plain cursor.
    // What we hold for review goes only to a peer that takes it (`held`, even empty: "none of these").
    const acks = new PageAcks(async (cursor, notes) => {
      const refused = notes.filter((note) => !isHeldNote(note));
      const held = notes.filter(isHeldNote).map((note) => note.event_id);
      const tellHeld = await this.takesHeld(server, held.length > 0);
      await ack(cursor, refused.length > 0 && (await this.takesRefusals(server)) ? refused : undefined, tellHeld ? { held } : undefined);
    }, server, 'pull', log, { refusals: this.refusals });
    /** A backlog being drained: since when, events and pages (logged once caught up). */
    let backlog = { since: 0, events: 0, pages: 0, acksBefore: 0 };
    return {
      take: async ({ events }) => {
        /** The events of the page refused here (kept with its cursor, named by the ack that covers it). */
        const refused: AckRefusal[] = [];
        const stored = await this.storePage(server, events, refused);
        if (typeof stored === 'object') {
          // Over a quota here (429): the page is neither saved nor acknowledged, so the peer keeps
          // it; asked again from the stored cursor once the quota allows (storing again is a no-op).
          infoLimited(log, `pull_quota_wait ${server}`, { event: 'pull_quota_wait', server, wait_ms: stored.waitMs }, 'pulled events wait for the quota; the page is asked again later');
          return { taken: false, waitMs: stored.waitMs, error: `${stored.message}; asking again in ${Math.ceil(stored.waitMs / 1000)} s` };
        }
        if (stored === 'retry') throw new Error('an event of the page could not be stored yet; the page is asked again');
        return { taken: true, fruitful: stored === 'fresh', refused };
      },
      resume: (cursor) => acks.resume(cursor),
      taken: ({ events }, next) => {
        const full = events.length >= MAX_PULL_EVENTS;
        acks.storedUpTo(next, events.length, !full);
        if (backlog.pages === 0) backlog = { since: Date.now(), events: 0, pages: 0, acksBefore: acks.sent };
        backlog.events += events.length;
        backlog.pages += 1;
        if (!full) {
          if (backlog.pages > BACKLOG_PAGES) {
            log.info({ event: 'pull_backlog_drained', server, events: backlog.events, pages: backlog.pages, acks: acks.sent - backlog.acksBefore, ms: Date.now() - backlog.since }, `pulled a backlog of ${backlog.events} events from ${server}`);
          }
          backlog.pages = 0;
        }
      },
      close: () => acks.close(),
    };
  }

  /**
   * Verifies and stores a page in order (the loop saves its cursor once it is stored). 'retry' when
   * an event failed for a reason worth retrying (the page is asked again: what was stored is a
   * no-op then). Refused events (4xx) are logged, added to `refused` (the ack names them, and the
   * peer marks them failed, as a push would have them fail) and skipped; but an event refused for
   * a quota (429) waits: nothing is saved, and the wait is returned.
   * Otherwise 'fresh' when most of it was new here (events or invites stored, or held, for the
   * first time: at least half the page), 'nothing' when less was (the loop paces such pages:
   * signed-page-loop.ts; one new event among junk, copies and refusals, had the next page asked at once).
   */
  private async storePage(server: string, page: unknown[], refused: AckRefusal[]): Promise<'fresh' | 'nothing' | 'retry' | QuotaWait> {
    const { ingest, log } = this.deps;
    // An invite of one of our users by the room's host comes this way when we cannot be called
    // (issue #32): taken as its POST /invite would be (RoomService.receivePulledInvite).
    // What its failure means is decided as for any fetched event: over a quota it waits, not
    // checkable now it is asked again for a while, a failure here is waited out, and anything else
    // is a refusal (logged; the page goes on), so a hostile host cannot hold the page with one.
    const raws: unknown[] = [];
    let news = 0;
    const fresh = () => mostlyNew(news, page.length);
    for (const raw of page) {
      try {
        const invite = this.deps.receiveInvite ? await this.deps.receiveInvite(server, raw) : false;
        if (invite === false) raws.push(raw);
        else {
          if (invite === 'taken') news++;
          this.settledUnchecked(server, raw);
        }
      } catch (error) {
        const failure = fetchedEventFailure(error);
        if (failure.kind === 'quota') return failure;
        if (failure.kind === 'failure' || (failure.kind === 'unchecked' && this.stillUnchecked(server, raw, failure.message))) {
          warnLimited(log, `pulled_invite_failed ${server}`, { event: 'pulled_invite_failed', server, error: failure.message }, 'a pulled invite could not be stored yet; the page is asked again');
          return 'retry';
        }
        const refusal = failure.kind === 'unchecked' ? givenUpUnchecked(failure.message) : error;
        warnLimited(log, `pulled_event_refused ${server}`, refusedFields(server, refusal), 'a pulled invite was refused');
        noteRefusal(refused, fetchedEventId(raw), refusal);
        this.settledUnchecked(server, raw);
      }
    }
    const verifications = ingest.verifyAll(server, raws);
    verifications.forEach((p) => p.catch(() => undefined));
    const verified: VerifiedEvent[] = [];
    let retry = false;
    for (let i = 0; i < verifications.length; i++) {
      try {
        verified.push(await verifications[i]!);
      } catch (error) {
        const failure = fetchedEventFailure(error);
        if (failure.kind === 'quota') return failure;
        if (failure.kind === 'failure' || (failure.kind === 'unchecked' && this.stillUnchecked(server, raws[i], failure.message))) {
          // The page is asked again from here; the windows of the page's other unchecked events
          // start now too (their windows run side by side, not one after another).
          for (let j = i + 1; j < verifications.length; j++) {
            const later = await verifications[j]!.then(() => null, (e: unknown) => fetchedEventFailure(e));
            const laterId = later?.kind === 'unchecked' ? fetchedEventId(raws[j]) : null;
            if (laterId !== null) this.unchecked.start(server, laterId, fetchedEventOrigin(raws[j]));
          }
          retry = true;
          break;
        }
        const refusal = failure.kind === 'unchecked' ? givenUpUnchecked(failure.message) : error;
        this.deps.onReceived?.(receivedOutcome(refusal));
        warnLimited(log, `pulled_event_refused ${server}`, refusedFields(server, refusal), 'a pulled event was refused');
        noteRefusal(refused, fetchedEventId(raws[i]), refusal);
        this.settledUnchecked(server, raws[i]);
      }
    }
    if (verified.length === 0) return retry ? 'retry' : fresh() ? 'fresh' : 'nothing';
    // A page may cross the quota (verify saw the stored usage only): the cursor is saved once no
    // event of the page was refused for it, after the commit (should it be lost, the page is
    // asked again: what was stored is a no-op).
    const { outcomes } = await ingest.storeMany(verified, server);
    let wait: QuotaWait | null = null;
    for (const [j, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        // New here: stored, or held in quarantine for the first time (a copy of a held event is
        // no more news than a copy of a stored one: counted new, it had the next page asked at once).
        if (outcome.value.inserted) news++;
        this.unchecked.settled(server, outcome.value.event_id);
        // Held for review (we keep its sender in quarantine): named in the ack that covers it, so
        // its sender's message reads "held for review" there, not delivered.
        if (outcome.value.held) refused.push({ event_id: outcome.value.event_id, ...HELD_NOTE });
        this.deps.onReceived?.(receivedOutcome(outcome.value));
      }
      if (outcome.status === 'rejected') {
        const e = outcome.reason as Error;
        const failure = fetchedEventFailure(e);
        if (failure.kind === 'quota') wait ??= failure;
        if (wait) continue;
        if (failure.kind === 'failure' || (failure.kind === 'unchecked' && this.stillUnchecked(server, verified[j]!.envelope, failure.message))) retry = true;
        else {
          const refusal = failure.kind === 'unchecked' ? givenUpUnchecked(failure.message) : e;
          this.deps.onReceived?.(receivedOutcome(refusal));
          warnLimited(log, `pulled_event_refused ${server}`, refusedFields(server, refusal), 'a pulled event was refused');
          noteRefusal(refused, verified[j]!.envelope.event_id, refusal);
          this.unchecked.settled(server, verified[j]!.envelope.event_id);
        }
      }
    }
    if (wait) return wait;
    return retry ? 'retry' : fresh() ? 'fresh' : 'nothing';
  }

  /**
   * Whether `server` takes refusals with its acks (advertises PULL_REFUSALS_CAPABILITY). Its
   * discovery failing throws: the ack is sent again later, with them (sent without, the peer
   * would take the refused events as delivered).
   */
  private async takesRefusals(server: string): Promise<boolean> {
    return (await this.deps.discovery.documentOf(server)).capabilities.includes(PULL_REFUSALS_CAPABILITY);
  }

  /**
   * Whether `server` takes the events we hold for review with its acks (PULL_HELD_CAPABILITY).
   * `mustKnow` (some are held): its discovery failing throws, and the ack is sent again later with
   * them. Else (only "none held" to tell) an ack does not wait for it: sent without the field.
   */
  private async takesHeld(server: string, mustKnow: boolean): Promise<boolean> {
    try {
      return (await this.deps.discovery.documentOf(server)).capabilities.includes(PULL_HELD_CAPABILITY);
    } catch (error) {
      if (mustKnow) throw error;
      return false;
    }
  }

  /** A pulled event taken or refused for good: its unchecked window, if any, is over. */
  private settledUnchecked(server: string, raw: unknown): void {
    const id = fetchedEventId(raw);
    if (id !== null) this.unchecked.settled(server, id);
  }

  /**
   * An event of the page that could not be checked or stored now: the page is asked again while
   * its window lasts (fetched-event-failure.ts), then it is refused (logged; named in the ack as
   * `unchecked_given_up`, so its sender shows it not delivered) and the cursor moves on.
   */
  private stillUnchecked(server: string, raw: unknown, message: string): boolean {
    const id = fetchedEventId(raw);
    if (id === null || this.unchecked.retry(server, id, fetchedEventOrigin(raw))) return true;
    this.deps.log.warn({ event: 'pulled_event_given_up', server, event_id: cleanText(id, 255), error: cleanText(message, PEER_TEXT_MAX) }, 'a pulled event could not be checked for hours; given up');
    return false;
  }
}

/** The log fields of a pulled event refused (an HttpError's status and code; another error's text). */
function refusedFields(server: string, error: unknown) {
  const http = error instanceof HttpError ? { status: error.status, error: error.code } : {};
  return { event: 'pulled_event_refused', server, ...http, message: (error as Error).message };
}

/**
 * Notes a pulled event refused for good (a 4xx verdict other than 429, or one given up unchecked:
 * 403 unchecked_given_up) for the ack: its id, the status and the error code (a code not of the
 * wire's form is sent as `refused`). Other failures taken as refusals (a shape no check foresaw)
 * are not named: the peer takes those as delivered.
 */
function noteRefusal(refused: AckRefusal[], eventId: string | null, error: unknown): void {
  if (eventId === null || !isFinalRefusal(error) || refused.some((r) => r.event_id === eventId)) return;
  refused.push({ event_id: eventId, status: error.status, error: /^[a-z_]{1,64}$/.test(error.code) ? error.code : 'refused' });
}
