/**
 * Catch-up (docs/PROTOCOL.md §Rooms): the host serves a room's history in pages (`GET /events`);
 * a member pulls what it missed, bounded per run, per host and per minute, and backs off a host
 * whose pages bring nothing.
 */
import { warnLimited } from '../log/rate-limit.ts';
import { EVENT_ID, serverOf } from '../../../shared/identifiers.ts';
import { forbidden } from '../errors.ts';
import { receivedOutcome } from '../federation/event-ingest.ts';
import type { HttpClient } from '../federation/http-client.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { MAX_DEPTH_GROUP } from '../store/federation-events.ts';
import { fetchedEventFailure, fetchedEventId, fetchedEventOrigin, UncheckedRetries, UNCHECKED_RETRY_FOR_MS } from '../federation/fetched-event-failure.ts';
import { compareDisplayOrder } from './event-types.ts';
import { aheadOfReference3, tooOldForReference3 } from '../federation/reference/carry.ts';
import { PAGE_BYTES, utf8Bytes } from '../federation/page-budget.ts';
import { envelopeWireJson } from '../federation/envelope.ts';
import { EVENTS_PATH } from '../federation/paths.ts';
import { PerMinuteBudget } from '../util/per-minute-budget.ts';
import { RoomPart, type RoomServiceDeps } from './room-part.ts';

const CATCH_UP_PAGE = 200;
/** The most events a catch-up page is taken with: what a host serves (the limit, and the rest of a depth). */
const CATCH_UP_MAX_EVENTS = CATCH_UP_PAGE + MAX_DEPTH_GROUP;
/** After a host's catch-up cursor stopped advancing, its rooms are not pulled again for this long. */
const CATCH_UP_BACKOFF_MS = 10 * 60_000;
/**
 * Catch-up bounds (red team "catch-up crawl"): a host that keeps saying "more" while its pages
 * bring nothing — cursor creeping forward by one, the same or already stored events — is
 * dropped after this many such pages in a row, and backed off like a stalled host.
 */
const CATCH_UP_FRUITLESS_PAGES = 3;
/** In a room held over UNCHECKED_RETRY_FOR_MS for unchecked events, how long a new one is still tried. */
const HELD_ROOM_EVENT_GRACE_MS = 10 * 60_000;
/** Default for NodeConfig.catchUpMaxPagesPerRun: pages (200 events each) one run asks for; the rest waits for the next run. */
export const DEFAULT_CATCH_UP_MAX_PAGES_PER_RUN = 500;
/** A run stopped by its page limit is resumed this much later. */
const PAGE_LIMIT_RESUME_MS = 1_000;
/** Default for NodeConfig.catchUpRequestsPerHostPerMinute (all rooms together); then the run pauses a minute. */
export const DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE = 120;

/**
 * After a run: offers our users the invites that came with the room's history and are still their
 * latest membership (RoomInvites.adoptHistoryInvites).
 */
export type AdoptInvites = (roomId: string) => Promise<void>;

export class RoomCatchUp extends RoomPart {
  private readonly adoptInvites: AdoptInvites;

  constructor(deps: RoomServiceDeps, adoptInvites: AdoptInvites) {
    super(deps);
    this.adoptInvites = adoptInvites;
  }

  /**
   * Host side of `GET /events`: a page for a server with joined members. `sinceEventId` makes
   * the cursor (depth, event_id) exact; without it, `since_depth` alone (older callers).
   */
  catchUpPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number, sinceEventId?: string) {
    this.hostedRoom(roomId);
    if (!this.d.rooms.isJoinedServer(roomId, requestOrigin)) throw forbidden('not_a_member_server', `${requestOrigin} has no members in ${roomId}`);
    const page = this.d.events.since(roomId, sinceDepth, limit, sinceEventId);
    const answer = {
      room_id: roomId, events: page.events, complete: page.complete,
      next_since_depth: page.last ? page.last.depth : sinceDepth,
      ...(page.last ? { next_since_event_id: page.last.event_id } : sinceEventId ? { next_since_event_id: sinceEventId } : {}),
    };
    if (this.d.dialects?.referenceVersion(requestOrigin) !== '3') return answer;
    // A reference 3.x reads its cursor as next_depth / next_event_id, and would refuse events
    // signed more than 7 days ago, or more than 60 s ahead of its clock, without ever moving past
    // them: they are left out, the cursor passing them (reference/carry.ts).
    const now = Date.now();
    return {
      ...answer, events: page.events.filter((e) => !tooOldForReference3(e.origin_ts, now) && !aheadOfReference3(e, now)),
      next_depth: answer.next_since_depth, next_event_id: answer.next_since_event_id ?? null,
    };
  }

  /** Hosts whose catch-up cursor stopped advancing: not asked again until then (ms). */
  private readonly catchUpBackoff = new Map<string, number>();

  /** Per host: times of its catch-up requests in the last minute. */
  private readonly catchUpRequests = new PerMinuteBudget(() => this.d.catchUpRequestsPerHostPerMinute ?? DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE);

  /** Aborted by stop(): running catch-ups end (their HTTP request too) and write nothing more. */
  private readonly stopping = new AbortController();

  private readonly resumeTimers = new Map<string, { timer: NodeJS.Timeout; at: number }>();

  /** Events a run could not check yet (their signer's keys unreadable): tried again while their window lasts. */
  private readonly unchecked = new UncheckedRetries();

  /** Per room: its host and until when its catch-up waits for the storage quota here (the room's view says so). */
  private readonly quotaWaits = new Map<string, { host: string; until: number }>();

  /** A room whose catch-up waits for the storage quota here: from which host, until when (RoomSummary `waits`). */
  quotaWaitOf(roomId: string, now = Date.now()): { server: string; until: number } | null {
    const wait = this.quotaWaits.get(roomId);
    return wait && wait.until > now ? { server: wait.host, until: wait.until } : null;
  }

  /**
   * Per room: since when its runs keep its watermark held for events they could not check. Past
   * UNCHECKED_RETRY_FOR_MS, unchecked events are given up (a host that keeps serving new events
   * with unreadable keys must not hold a room's watermark for good, nor have it re-paged forever).
   */
  private readonly heldSince = new Map<string, number>();

  /**
   * In a room held that long, an unchecked event is still tried for this long from when it was
   * first met (a key read a few seconds late is not given up), not for its whole window.
   */
  private heldTooLong(roomId: string, now = Date.now()): boolean {
    const since = this.heldSince.get(roomId);
    return since !== undefined && now - since >= UNCHECKED_RETRY_FOR_MS;
  }

  /** Per room: runs in a row that left an event unchecked (their resumptions wait longer each time). */
  private readonly uncheckedRuns = new Map<string, number>();

  /** Cancels running catch-ups and scheduled resumptions (node stop, before the database closes). */
  stop(): void {
    this.stopping.abort();
    for (const { timer } of this.resumeTimers.values()) clearTimeout(timer);
    this.resumeTimers.clear();
  }

  /** Takes one catch-up request from `host`'s budget for this minute; false when it is spent. */
  private catchUpBudget(host: string): boolean {
    return this.catchUpRequests.take(host);
  }

  /**
   * Runs catchUp(roomId) again in a minute (a run paused by the per-host request budget), or after
   * `ms`. One resumption per room: an earlier one already set stands (no second chain of runs).
   */
  private resumeCatchUpLater(roomId: string, ms = 60_000): void {
    const at = Date.now() + ms;
    const pending = this.resumeTimers.get(roomId);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.resumeTimers.delete(roomId);
      this.catchUp(roomId).catch((error: Error) => warnLimited(this.d.log, `catch_up_failed ${serverOf(roomId)}`, { event: 'catch_up_failed', room_id: roomId, error: error.message }, 'catch-up failed'));
    }, ms);
    timer.unref();
    this.resumeTimers.set(roomId, { timer, at });
  }

  /**
   * Pulls what we missed in a remote room from its host (on start, after a join); then an invite
   * of one of our users that came this way (or with the join's snapshot), missed live, becomes the
   * invitation a push would have made.
   */
  async catchUp(roomId: string): Promise<number> {
    const stored = await this.catchUpPages(roomId);
    if (!this.stopping.signal.aborted) await this.adoptInvites(roomId);
    return stored;
  }

  private async catchUpPages(roomId: string): Promise<number> {
    const host = serverOf(roomId);
    if (host === this.server) return 0;
    const backoffLeft = (this.catchUpBackoff.get(host) ?? 0) - Date.now();
    if (backoffLeft > 0) {
      // Asked again once the host's backoff is over: nothing else would start this room's
      // catch-up before the next restart. Every room, not only one that waits for something (an
      // event not taken yet, the quota): a room joined while its host is backed off (another
      // room's fruitless pages, or its quota) had only the join's snapshot until a restart.
      this.resumeCatchUpLater(roomId, backoffLeft + 1_000);
      return 0;
    }
    const signal = this.stopping.signal;
    // The cursor: after (depth, event_id); a stored watermark is a depth whose events all arrived.
    let cursor: { depth: number; eventId: string | null } = { depth: this.syncedDepth(roomId), eventId: null };
    let stored = 0;
    let fruitless = 0;
    /** Event ids this run has seen: a page of events already seen in this run is no progress. */
    const seen = new Set<string>();
    /** The lowest depth of an event this run could not check yet: the watermark stays below it. */
    let held: number | null = null;
    /** Whether something held it is unchecked (keys a peer names), not only a failure of ours. */
    let heldUnchecked = false;
    let heldRetryMs = Infinity;
    /** Whether this run read the room to its end: only then does holding nothing say what was held before is settled. */
    let reachedEnd = false;
    for (let page = 0; ; page++) {
      if (signal.aborted) return stored;
      if (page >= (this.d.catchUpMaxPagesPerRun ?? DEFAULT_CATCH_UP_MAX_PAGES_PER_RUN)) {
        warnLimited(this.d.log, `catch_up_page_limit ${host}`, { event: 'catch_up_page_limit', room_id: roomId, host, pages: page }, 'catch-up run reached its page limit; the rest comes with the next run');
        // The next run starts from the watermark in a second (the host's request budget bounds the
        // rate; this bounds one run). Before, none was set: the rest waited for a restart. Not
        // when this run held an event it could not check: the watermark stays below it, the next
        // run would read the same pages again, and resumeUnchecked's growing wait decides.
        if (held === null) this.resumeCatchUpLater(roomId, PAGE_LIMIT_RESUME_MS);
        break;
      }
      if (!this.catchUpBudget(host)) {
        warnLimited(this.d.log, `catch_up_rate_limited ${host}`, { event: 'catch_up_rate_limited', room_id: roomId, host, per_minute: this.d.catchUpRequestsPerHostPerMinute ?? DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE }, 'catch-up requests to this host reached the per-minute budget; resuming in a minute');
        this.resumeCatchUpLater(roomId);
        break;
      }
      const after = cursor.eventId ? `&since_event_id=${encodeURIComponent(cursor.eventId)}` : '';
      const path = `${EVENTS_PATH}?room_id=${encodeURIComponent(roomId)}&since_depth=${cursor.depth}${after}&limit=${CATCH_UP_PAGE}`;
      const endpoint = await this.d.discovery.endpointOf(host);
      let response: Awaited<ReturnType<HttpClient['signed']>>;
      try {
        response = await this.d.http.signed(this.d.identity(), 'GET', endpoint, path, undefined, { destination: host, signal });
      } catch (error) {
        if (signal.aborted) return stored;
        throw error;
      }
      if (signal.aborted) return stored;
      if (response.status !== 200) throw new Error(`catch-up from ${host}: HTTP ${response.status} ${cleanText(response.text, 200)}`);
      const body = response.json as { events?: unknown[]; complete?: boolean; next_since_depth?: unknown; next_since_event_id?: unknown };
      // At most what the host serves (limit, and the rest of a depth): the events past it come with
      // the next page, asked after the last event taken here, not after the host's cursor.
      const served = Array.isArray(body.events) ? body.events : [];
      const events = served.length > CATCH_UP_MAX_EVENTS ? served.slice(0, CATCH_UP_MAX_EVENTS) : served;
      let lastTaken: { depth: number; eventId: string } | null = null;
      let storedNow = 0;
      let newToRun = 0;
      /** The deepest event of this room taken from this page (stored now or before): what the watermark may pass. */
      let deepestTaken = -1;
      /** The wire bytes of the events new to this run: a fullish page of them is progress (not the answer's size, which a host can pad). */
      let newBytes = 0;
      for (const raw of events) {
        try {
          const verified = await this.d.ingest.verify(host, raw);
          if (signal.aborted) return stored;
          if (verified.envelope.room_id !== roomId) {
            this.unchecked.settled(host, verified.envelope.event_id);
            continue;
          }
          lastTaken = { depth: verified.envelope.depth, eventId: verified.envelope.event_id };
          const result = await this.d.ingest.store(verified, host);
          // Taken (stored now or before), not only signed: a depth the store refuses (one far in the future) moves nothing.
          deepestTaken = Math.max(deepestTaken, verified.envelope.depth);
          this.d.onReceived?.(receivedOutcome(result));
          if (result.inserted) storedNow++;
          // Progress only for an event taken (stored now or before: an honest host pages through
          // events we got live) and past the cursor asked from: events it refuses, or old ones
          // served again, would make a page of them look new run after run (red team 2026-11-27).
          if (!seen.has(verified.envelope.event_id) && isAfter(verified.envelope, cursor)) {
            if (seen.size >= 20_000) seen.clear(); // bounded memory; the page and rate bounds still hold
            seen.add(verified.envelope.event_id);
            newToRun++;
            newBytes += utf8Bytes(envelopeWireJson(verified.envelope));
          }
          this.unchecked.settled(host, verified.envelope.event_id);
        } catch (error) {
          if (signal.aborted) return stored;
          const failure = fetchedEventFailure(error);
          if (failure.kind === 'quota') {
            // Over a quota here: the cursor and the watermark stay before this event, and the
            // run resumes after Retry-After (the event is not lost, it waits).
            this.catchUpBackoff.set(host, Date.now() + failure.waitMs);
            if (this.quotaWaits.size >= 10_000) this.quotaWaits.clear();
            this.quotaWaits.set(roomId, { host, until: Date.now() + failure.waitMs });
            this.resumeCatchUpLater(roomId, failure.waitMs + 1_000);
            warnLimited(this.d.log, `catch_up_quota_wait ${host}`, { event: 'catch_up_quota_wait', room_id: roomId, host, wait_ms: failure.waitMs }, 'catch-up waits for the quota; resuming after Retry-After');
            return stored + storedNow;
          }
          const id = fetchedEventId(raw);
          const { depth, room_id: eventRoom } = (raw ?? {}) as { depth?: unknown; room_id?: unknown };
          if (failure.kind !== 'refused' && id !== null && EVENT_ID.test(id) && eventRoom === roomId && typeof depth === 'number' && Number.isSafeInteger(depth) && depth >= 0) {
            // A failure of ours is waited out however long it lasts; what cannot be checked (keys
            // a peer names) for its window, and in a room held over 2 h for such events, for 10 minutes each.
            if (failure.kind === 'failure' || (this.unchecked.retry(host, id, fetchedEventOrigin(raw)) && !(this.heldTooLong(roomId) && this.unchecked.age(host, id) >= HELD_ROOM_EVENT_GRACE_MS))) {
              if (failure.kind === 'unchecked') heldUnchecked = true;
              // Not taken now (its signer's keys unreadable, a failure of ours): the run goes on,
              // but the watermark stays below it and a later run asks for it again.
              held = held === null ? depth : Math.min(held, depth);
              heldRetryMs = Math.min(heldRetryMs, failure.waitMs);
              lastTaken = { depth, eventId: id };
              if (!seen.has(id) && isAfter({ depth, event_id: id }, cursor)) {
                if (seen.size >= 20_000) seen.clear();
                seen.add(id);
                newToRun++;
              }
              warnLimited(this.d.log, `catch_up_event_unchecked ${host}`, { event: 'catch_up_event_unchecked', room_id: roomId, host, event_id: id, error: failure.message }, 'a caught-up event could not be checked yet; asked again later');
              continue;
            }
            this.d.log.warn({ event: 'catch_up_event_given_up', room_id: roomId, host, event_id: id, error: failure.message }, 'a caught-up event could not be checked for hours; given up');
          }
          if (id !== null) this.unchecked.settled(host, id);
          this.d.onReceived?.(receivedOutcome(error));
          warnLimited(this.d.log, `catch_up_event_rejected ${host}`, { event: 'catch_up_event_rejected', room_id: roomId, host, error: (error as Error).message }, 'catch-up event rejected');
        }
      }
      stored += storedNow;
      const cut = events.length < served.length;
      if ((body.complete !== false && !cut) || events.length === 0) {
        reachedEnd = true;
        break;
      }
      // Progress: something stored, or a fullish page (in count or in bytes) of events this run had
      // not seen (a legit host paging through events we already got live). Otherwise the page was fruitless.
      fruitless = storedNow > 0 || newToRun >= CATCH_UP_PAGE / 2 || newBytes >= PAGE_BYTES / 2 ? 0 : fruitless + 1;
      if (fruitless >= CATCH_UP_FRUITLESS_PAGES) {
        this.catchUpBackoff.set(host, Date.now() + (this.d.catchUpBackoffMs ?? CATCH_UP_BACKOFF_MS));
        this.d.log.warn({ event: 'catch_up_fruitless', room_id: roomId, host, pages: fruitless, since_depth: cursor.depth }, 'room host keeps answering incomplete catch-up pages that bring nothing new; not asking it again for a while');
        break;
      }
      const next = nextCursor(cut ? { next_since_depth: lastTaken?.depth, next_since_event_id: lastTaken?.eventId } : body, cursor);
      if (!next) {
        // A host that says "more" without moving its cursor would be asked the same page forever.
        this.catchUpBackoff.set(host, Date.now() + (this.d.catchUpBackoffMs ?? CATCH_UP_BACKOFF_MS));
        this.d.log.warn({ event: 'catch_up_stalled', room_id: roomId, host, since_depth: cursor.depth }, 'room host answered an incomplete catch-up page without advancing; not asking it again for a while');
        break;
      }
      cursor = next;
      if (signal.aborted) return stored;
      // Events at the cursor's depth may continue on the next page: the watermark stays below it
      // (and below an event not checked yet), and below the deepest event taken from the page: the
      // host's cursor is its word, and one far past its events (2^53) kept every later run asking
      // from there, for good (a red-team review, 2026-11-30).
      this.d.db.prepare('UPDATE rooms SET synced_depth = MAX(synced_depth, ?) WHERE room_id = ?').run(Math.min(cursor.depth, held ?? Infinity, deepestTaken) - 1, roomId);
    }
    this.quotaWaits.delete(roomId);
    if (held !== null) {
      if (!heldUnchecked) this.heldSince.delete(roomId);
      else if (!this.heldSince.has(roomId)) {
        if (this.heldSince.size >= 10_000) this.heldSince.clear();
        this.heldSince.set(roomId, Date.now());
      }
      this.resumeUnchecked(roomId, host, heldRetryMs);
    } else if (reachedEnd) {
      // It read from the watermark to the end and held nothing: what was held before is taken or
      // refused. (A run cut short, by the host's request budget or the page limit, keeps the count:
      // events given no window are bounded by it alone.)
      this.uncheckedRuns.delete(roomId);
      this.heldSince.delete(roomId);
    }
    if (stored > 0) this.d.log.info({ event: 'caught_up', room_id: roomId, host, stored }, 'caught up with the room host');
    return stored;
  }

  /**
   * A run left events it could not check: the next run asks for them again after their
   * Retry-After, doubled with each such run in a row (at most 10 minutes), and not before a backoff
   * of the host ends (a run then would do nothing).
   */
  private resumeUnchecked(roomId: string, host: string, retryMs: number): void {
    const runs = Math.min((this.uncheckedRuns.get(roomId) ?? 0) + 1, 20);
    if (this.uncheckedRuns.size >= 10_000 && !this.uncheckedRuns.has(roomId)) this.uncheckedRuns.clear();
    this.uncheckedRuns.set(roomId, runs);
    const backoffLeft = (this.catchUpBackoff.get(host) ?? 0) - Date.now();
    this.resumeCatchUpLater(roomId, Math.max(Math.min(retryMs * 2 ** (runs - 1), 10 * 60_000), backoffLeft) + 1_000);
  }

  private syncedDepth(roomId: string): number {
    return this.d.db.prepare<[string], { synced_depth: number }>('SELECT synced_depth FROM rooms WHERE room_id = ?').get(roomId)?.synced_depth ?? 0;
  }

  /** Remote rooms where we have joined members: caught up at start. */
  remoteJoinedRooms(): string[] {
    return this.d.rooms
      .rooms()
      // Rooms of a reference host are polled (reference/reference-poller.ts), never caught up here.
      .filter((r) => r.host_server !== this.server && !this.isReferenceHost(r.host_server) && this.d.rooms.isJoinedServer(r.room_id, this.server))
      .map((r) => r.room_id);
  }
}


/**
 * The cursor a catch-up page moves to, or null when it does not move forward: the host's
 * `next_since_depth` (and `next_since_event_id`, when it gives one), which must come strictly
 * after `current` in display order.
 */
/** Whether an event sorts after a catch-up cursor (display order; at the cursor's depth only with its event id). */
function isAfter(event: { depth: number; event_id: string }, cursor: { depth: number; eventId: string | null }): boolean {
  if (event.depth !== cursor.depth) return event.depth > cursor.depth;
  if (cursor.eventId === null) return false;
  return compareDisplayOrder({ depth: event.depth, origin_server: serverOf(event.event_id), event_id: event.event_id }, { depth: cursor.depth, origin_server: serverOf(cursor.eventId), event_id: cursor.eventId }) > 0;
}

function nextCursor(body: { next_since_depth?: unknown; next_since_event_id?: unknown }, current: { depth: number; eventId: string | null }) {
  const depth = body.next_since_depth;
  if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < 0) return null;
  const id = body.next_since_event_id;
  const eventId = typeof id === 'string' && id.length <= 255 && EVENT_ID.test(id) ? id : null;
  if (depth > current.depth) return { depth, eventId };
  if (depth < current.depth || eventId === null) return null;
  if (current.eventId === null) return { depth, eventId }; // same depth, now with an exact position
  const a = { depth, origin_server: serverOf(eventId), event_id: eventId };
  const b = { depth: current.depth, origin_server: serverOf(current.eventId), event_id: current.eventId };
  return compareDisplayOrder(a, b) > 0 ? { depth, eventId } : null;
}
