/**
 * A host restored from a backup recovers its own events (docs/PROTOCOL.md §Recovering a restored
 * host's own events): what its users sent after the backup reached the rooms' member servers,
 * which serve it back (`GET /own-events`, to the room's host only). The host takes only events
 * of its own origin, signed with its own keys, of the room asked about, signed within a window
 * from the backup's newest event of its own; it stores and applies them as it accepted them
 * before (no "too old" rule: they were placed when first sent) and relays nothing (the members
 * have them).
 */
import { compareDisplayOrder } from '../../../shared/display-order.ts';
import { EVENT_ID, eventIdBelongsTo, isUserId, serverOf } from '../../../shared/identifiers.ts';
import { verify } from '../crypto/ed25519.ts';
import { eventShapeViolation } from '../crypto/json-limits.ts';
import { HttpError, badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { MAX_EVENT_CONTENT_BYTES, envelopeSigningParts, contentHash, parseEnvelope, type Envelope } from '../federation/envelope.ts';
import { OWN_EVENTS_CAPABILITY, OWN_EVENTS_PATH } from '../federation/paths.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { authorizeEvent, checkReceivedContent } from './authorize.ts';
import { MAX_CLOCK_SKEW_MS, checkRelayedOrdering } from './ordering.ts';
import { PerMinuteBudget } from '../util/per-minute-budget.ts';
import { RoomPart } from './room-part.ts';
import { guarded } from '../util/guarded.ts';
import { schemaIssueText } from '../util/untrusted-text.ts';

/** Events asked for per page (a member serves at most OWN_EVENTS_MAX_LIMIT). */
const PAGE = 200;
/** Pages asked of one member for one room in one run; the rest waits for the next run. */
const MAX_PAGES_PER_RUN = 500;
/** How long one run asks one member about one room (ms); the rest waits for the next run. */
export const MEMBER_RUN_MS = 2 * 60_000;
/** Requests to one member per minute, all rooms together (as catch-up's per-host budget). */
const REQUESTS_PER_MEMBER_PER_MINUTE = 120;
/** Incomplete pages in a row that bring nothing new before a member is left for the run (as catch-up). */
const FRUITLESS_PAGES = 3;
/** Event types not taken from the member whose user they name (state_key): they favour that user. */
const FAVOURS = new Set(['m.member.invite', 'm.member.unban', 'm.room.role']);
/** Events of one room pooled in one run (from all its members); the rest waits for the next run. */
const MAX_POOLED = 50_000;
/** One checked event of ours, ready to store. */
interface Checked { event: Envelope; hash: string; contentJson: string; target: string | null }
/** A room's events served in one run, by id: one copy each, and the members that served it. */
type Pool = Map<string, { checked: Checked; servers: Set<string> }>;
/**
 * Refusals only a member that lies would cause: an honest member serves only events it accepted
 * as ours, of the room asked, with their signatures. Such a member is not asked again by this
 * recovery (its page is still checked through: each event is bounded work).
 */
const LIAR_CODES = new Set(['invalid_event', 'not_own_event', 'wrong_room', 'bad_event_signature', 'event_id_conflict']);
/**
 * How far before the backup's newest event of ours an event may be signed and still be taken:
 * the clock of the original box may have been set back a little after the backup.
 */
export const RECOVERY_WINDOW_MARGIN_MS = 60 * 60_000;
/** Retries of a failed run: after 30 s, doubled each time, at most 30 minutes apart. */
const RETRY_FIRST_MS = 30_000;
const RETRY_MAX_MS = 30 * 60_000;
/** The recovery is given up this long after its first try (members that never answered stay unasked). */
export const RECOVERY_GIVE_UP_MS = 24 * 3600_000;

export interface RecoveryMark {
  /** The backup's newest event of our own origin (ms): the window starts a margin before it. */
  since: number;
  /** When the recovery was first tried (ms). */
  first_try_at: number;
}

/** What one run did: stored, refused, and whether every member that can answer answered complete. */
export interface RecoveryRun {
  stored: number;
  refused: number;
  done: boolean;
}

export class OwnEventsRecovery extends RoomPart {
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  /** `room_id member` pairs that answered complete (not asked again in later runs). */
  private readonly finished = new Set<string>();
  /** Events stored and refused over this start's runs (logged when the recovery ends). */
  private readonly totals = { stored: 0, refused: 0 };
  /** Members that served an event only a liar would serve: not asked again by this recovery. */
  private readonly liars = new Set<string>();
  /** Per member: when its recent requests were made (the per-minute budget). */
  private readonly requests = new PerMinuteBudget(() => REQUESTS_PER_MEMBER_PER_MINUTE, 10_000);

  /**
   * Member side of `GET /own-events`: the events of the requester's own origin we hold in the room
   * it hosts, in order after the cursor. Anyone else than the room's host is refused (403).
   */
  ownEventsPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number, sinceEventId?: string) {
    const host = serverOf(roomId);
    if (host !== requestOrigin || this.isHost(roomId)) throw forbidden('not_room_host', `only the host of ${roomId} may ask for its own events there`);
    if (!this.d.rooms.room(roomId)) throw notFound('unknown_room', `this server is not in ${roomId}`);
    const page = this.d.events.ofOrigin(roomId, requestOrigin, sinceDepth, sinceEventId ?? '', limit);
    return {
      room_id: roomId, events: page.events, complete: page.complete,
      next_since_depth: page.last ? page.last.depth : sinceDepth,
      ...(page.last ? { next_since_event_id: page.last.event_id } : sinceEventId ? { next_since_event_id: sinceEventId } : {}),
    };
  }

  /** Ends a running recovery and its retries (node stop). */
  stop(): void {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Runs the recovery now and again with back-off until every member answered complete or
   * RECOVERY_GIVE_UP_MS after its first try; `finished` is called once then (not after a stop).
   */
  start(mark: RecoveryMark, finished: (outcome: { done: boolean }) => void, attempt = 0): void {
    if (this.stopping.signal.aborted) return;
    // What its handlers write (the restored mark, a retry's timer) failing is logged, not thrown out of here.
    guarded(this.d.log, 'own_events_recovery_step_failed', () => this.recover(mark).then(
      (run) => {
        if (this.stopping.signal.aborted) return;
        this.totals.stored += run.stored;
        this.totals.refused += run.refused;
        if (run.done) {
          this.d.log.info({ event: 'own_events_recovered', ...this.totals }, 'restored from a backup: the rooms\' members gave back the events of ours they hold');
          finished({ done: true });
          return;
        }
        this.retry(mark, finished, attempt);
      },
      (error: unknown) => {
        if (this.stopping.signal.aborted) return;
        warnLimited(this.d.log, 'own_events_recovery_failed', { event: 'own_events_recovery_failed', error: (error as Error).message }, 'recovering our own events from the rooms\' members failed; trying again later');
        this.retry(mark, finished, attempt);
      },
    ));
  }

  private retry(mark: RecoveryMark, finished: (outcome: { done: boolean }) => void, attempt: number): void {
    const wait = Math.min((this.d.ownEventsRetryMs ?? RETRY_FIRST_MS) * 2 ** Math.min(attempt, 20), RETRY_MAX_MS);
    if (Date.now() + wait - mark.first_try_at > RECOVERY_GIVE_UP_MS) {
      this.d.log.warn({ event: 'own_events_recovery_given_up', since: mark.since, ...this.totals }, 'restored from a backup: some rooms\' members never answered for a day; what of ours only they hold is not recovered');
      finished({ done: false });
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start(mark, finished, attempt + 1);
    }, wait);
    this.timer.unref();
  }

  /**
   * One run over every room we host: each member server not finished yet is paged (checkOwn);
   * what they serve is pooled (one copy per event id), then stored and applied in display order
   * (storeOwn). A member is finished once it answered complete and none of the events it served
   * failed authorization or storage (those may pass at a later run, with events another member
   * serves then).
   */
  async recover(mark: RecoveryMark): Promise<RecoveryRun> {
    const run: RecoveryRun = { stored: 0, refused: 0, done: true };
    const signal = this.stopping.signal;
    for (const room of this.d.rooms.rooms()) {
      if (room.host_server !== this.server) continue;
      const pool: Pool = new Map();
      const answered: string[] = [];
      for (const member of this.d.rooms.joinedServers(room.room_id)) {
        if (signal.aborted) return { ...run, done: false };
        // The day's limit holds within a run too (retry() then gives up).
        if (Date.now() - mark.first_try_at > RECOVERY_GIVE_UP_MS) return { ...run, done: false };
        if (member === this.server || this.finished.has(`${room.room_id} ${member}`) || this.liars.has(member)) continue;
        // Nothing is sent to a server the owner blocked or quarantined (as callPeer): asked in a later run.
        if (this.d.isHeldDestination?.(member)) {
          run.done = false;
          continue;
        }
        try {
          const capabilities = (await this.d.discovery.documentOf(member)).capabilities;
          // An older member cannot answer (it would say 404): not asked.
          if (!capabilities.includes(OWN_EVENTS_CAPABILITY) || (await this.fromMember(room.room_id, member, mark, run, pool))) answered.push(member);
          else run.done = false;
        } catch (error) {
          if (signal.aborted) return { ...run, done: false };
          run.done = false;
          warnLimited(this.d.log, `own_events_member_failed ${member}`, { event: 'own_events_member_failed', room_id: room.room_id, server: member, error: (error as Error).message }, 'could not ask a member for our own events of a room; asked again later');
        }
      }
      const failedFrom = new Set<string>();
      for (const { checked, servers } of [...pool.values()].sort((a, b) => compareDisplayOrder(a.checked.event, b.checked.event))) {
        if (signal.aborted) return { ...run, done: false };
        try {
          if (await this.storeOwn(checked, room.room_id)) run.stored++;
        } catch (error) {
          run.refused++;
          // Another copy of an id we hold is final; anything else (authorization against the state
          // an event not recovered yet changes, a failure of ours) is tried again at the next run.
          if (!(error instanceof HttpError && error.code === 'event_id_conflict')) for (const server of servers) failedFrom.add(server);
          warnLimited(this.d.log, `own_event_not_applied ${room.room_id}`, { event: 'own_event_not_applied', room_id: room.room_id, event_id: checked.event.event_id, servers: [...servers], error: (error as Error).message }, 'an event of ours a member served could not be stored or applied; tried again at the next run');
        }
      }
      for (const member of answered) {
        // (A member that lied is not asked again: it does not hold the recovery back.)
        if (failedFrom.has(member) && !this.liars.has(member)) run.done = false;
        else this.finished.add(`${room.room_id} ${member}`);
      }
    }
    return run;
  }

  /** Takes one request from `member`'s budget for this minute; false when it is spent. */
  private requestBudget(member: string): boolean {
    return this.requests.take(member);
  }

  /**
   * Pages one member's copy of our events in one room into `pool`; true once it answered
   * complete. A run asks it for at most MEMBER_RUN_MS, within its request budget, and leaves it
   * after FRUITLESS_PAGES incomplete pages in a row that bring nothing new; a member that serves an
   * event only a liar would serve is not asked again (true: nothing more is awaited from it).
   */
  private async fromMember(roomId: string, member: string, mark: RecoveryMark, run: RecoveryRun, pool: Pool): Promise<boolean> {
    const deadline = AbortSignal.timeout(MEMBER_RUN_MS);
    const signal = AbortSignal.any([this.stopping.signal, deadline]);
    const from = mark.since - RECOVERY_WINDOW_MARGIN_MS;
    let cursor: { depth: number; eventId: string } = { depth: Math.max(0, from), eventId: '' };
    let fruitless = 0;
    /** Events of ours this member served this run: a page of events already seen is no progress. */
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES_PER_RUN; page++) {
      if (Date.now() - mark.first_try_at > RECOVERY_GIVE_UP_MS) return false;
      if (!this.requestBudget(member)) {
        warnLimited(this.d.log, `own_events_rate_limited ${member}`, { event: 'own_events_rate_limited', room_id: roomId, server: member }, 'requests for our own events to this member reached the per-minute budget; the rest waits for the next run');
        return false;
      }
      const after = cursor.eventId ? `&since_event_id=${encodeURIComponent(cursor.eventId)}` : '';
      const path = `${OWN_EVENTS_PATH}?room_id=${encodeURIComponent(roomId)}&since_depth=${cursor.depth}${after}&limit=${PAGE}`;
      const endpoint = await this.d.discovery.endpointOf(member);
      let response: Awaited<ReturnType<typeof this.d.http.signed>>;
      try {
        response = await this.d.http.signed(this.d.identity(), 'GET', endpoint, path, undefined, { destination: member, signal });
      } catch (error) {
        if (this.stopping.signal.aborted) return false;
        if (deadline.aborted) throw new Error(`own events from ${member}: no complete answer within this run's time for the room`, { cause: error });
        throw error;
      }
      if (signal.aborted) return false;
      if (response.status !== 200) throw new Error(`own events from ${member}: HTTP ${response.status} ${cleanText(response.text, 200)}`);
      const body = response.json as { events?: unknown; complete?: unknown; next_since_depth?: unknown; next_since_event_id?: unknown } | null;
      const events = Array.isArray(body?.events) ? (body.events as unknown[]).slice(0, PAGE) : [];
      let newToRun = 0;
      let lied = false;
      for (const raw of events) {
        if (this.stopping.signal.aborted) return false;
        try {
          const checked = this.checkOwn(raw, roomId, member, from);
          const id = checked.event.event_id;
          const pooled = pool.get(id);
          if (pooled && pooled.checked.hash !== checked.hash) throw conflict('event_id_conflict', `${id} was served with other content by ${[...pooled.servers].join(', ')}`);
          if (pooled) pooled.servers.add(member);
          else if (pool.size < MAX_POOLED) pool.set(id, { checked, servers: new Set([member]) });
          else return false; // the rest at the next run (what is pooled is applied now)
          if (!seen.has(id)) {
            if (seen.size >= 20_000) seen.clear(); // bounded memory; the time and request bounds still hold
            seen.add(id);
            newToRun++;
          }
        } catch (error) {
          run.refused++;
          if (error instanceof HttpError && LIAR_CODES.has(error.code)) lied = true;
          warnLimited(this.d.log, `own_event_refused ${member}`, { event: 'own_event_refused', room_id: roomId, server: member, error: (error as Error).message }, 'a member served an event as ours that is not taken');
        }
      }
      if (lied) {
        this.liars.add(member);
        this.d.log.warn({ event: 'own_events_member_lied', room_id: roomId, server: member }, 'a member served as ours an event no honest member serves; it is not asked again by this recovery');
        return true;
      }
      if (body?.complete === true || events.length === 0) return body?.complete === true;
      // Progress: an event of ours this run had not seen from it (an honest member pages through
      // events we may already hold); a replay of the same ones with a moving cursor is not.
      fruitless = newToRun > 0 ? 0 : fruitless + 1;
      if (fruitless >= FRUITLESS_PAGES) {
        warnLimited(this.d.log, `own_events_fruitless ${member}`, { event: 'own_events_fruitless', room_id: roomId, server: member, pages: fruitless }, 'a member keeps answering incomplete pages of our own events that bring nothing new; asked again at the next run');
        return false;
      }
      const next = advancedCursor(body, cursor);
      // A member that says "more" without moving its cursor is asked again at the next run, not now.
      if (!next) throw new Error(`own events from ${member}: an incomplete page whose cursor does not move forward`);
      cursor = next;
    }
    return false;
  }

  /**
   * Checks one served event as ours (the ingest's checks, with our own keys): what storeOwn needs.
   * Throws an HttpError for anything not taken.
   */
  private checkOwn(raw: unknown, roomId: string, member: string, from: number): Checked {
    const parsed = parseEnvelope(raw);
    if (!parsed.success) throw badRequest('invalid_event', `event envelope is not valid: ${schemaIssueText(parsed.error.issues, 'schema mismatch')}`);
    const envelope = parsed.data;
    const server = this.server;
    if (envelope.origin_server !== server || !eventIdBelongsTo(envelope.event_id, server) || !isUserId(envelope.sender) || serverOf(envelope.sender) !== server) {
      throw forbidden('not_own_event', `${envelope.event_id} is not an event of ${server}`);
    }
    if (envelope.room_id !== roomId) throw forbidden('wrong_room', `${envelope.event_id} is of ${envelope.room_id}, not of ${roomId}`);
    // What favours the serving member's own users is not taken from it: it may hold an invite we
    // signed but dropped (a remote invite is signed before its server accepts it), or a grant
    // whose revocation it withholds. Losing a grant is the safe side (another member may serve it).
    // (A role event that makes them a plain member is taken: it favours nobody.)
    const demotion = envelope.event_type === 'm.room.role' && (envelope.content as { role?: unknown }).role === 'member';
    if (FAVOURS.has(envelope.event_type) && !demotion && typeof envelope.state_key === 'string' && isUserId(envelope.state_key) && serverOf(envelope.state_key) === member) {
      throw forbidden('favours_member', `${envelope.event_id} (${envelope.event_type}) concerns a user of ${member}, which served it`);
    }
    const now = Date.now();
    if (envelope.origin_ts < from || envelope.origin_ts > now + MAX_CLOCK_SKEW_MS) {
      throw forbidden('outside_recovery_window', `${envelope.event_id} was signed at ${envelope.origin_ts}, outside ${from}..${now + MAX_CLOCK_SKEW_MS}`);
    }
    checkRelayedOrdering(envelope, now);
    const { bytes, contentJson } = envelopeSigningParts(envelope);
    const contentBytes = Buffer.byteLength(contentJson);
    if (contentBytes > MAX_EVENT_CONTENT_BYTES) throw new HttpError(413, 'content_too_large', `event content is ${contentBytes} bytes`);
    const shape = eventShapeViolation(contentJson, envelope.signatures);
    if (shape) throw badRequest('limits_exceeded', `event is not within the wire limits: ${shape.message}`);
    checkReceivedContent(envelope, contentBytes, false);
    const keyId = this.signedByUs(envelope, bytes);
    if (keyId === null) throw forbidden('bad_event_signature', `${envelope.event_id} is not signed with a key of ours`);
    const own = envelope.signatures[server]!;
    const event: Envelope = { ...envelope, signatures: { [server]: { [keyId]: own[keyId]! } } };
    const hash = contentHash(bytes);
    const known = this.d.events.hashOf(event.event_id);
    if (known !== undefined && known !== hash) throw conflict('event_id_conflict', `event ${event.event_id} is already stored with different content`);
    return { event, hash, contentJson, target: typeof event.content.target === 'string' ? event.content.target : null };
  }

  /**
   * Stores and applies a checked event of ours when new; true when stored. It is authorized
   * against the room's state as of when it was signed (origin_ts), as when it was first accepted
   * (an invite that expired since still admits the join made with it); no ordering rule.
   */
  private async storeOwn(checked: Checked, roomId: string): Promise<boolean> {
    const { event, hash, contentJson, target } = checked;
    const stored = await this.d.commit.run(
      () => {
        const known = this.d.events.hashOf(event.event_id);
        if (known !== undefined) {
          if (known === hash) return false;
          throw conflict('event_id_conflict', `event ${event.event_id} is already stored with different content`);
        }
        const at = Date.now();
        authorizeEvent(this.d.rooms, this.d.events, event, event.origin_ts);
        this.d.events.insertNew(event, hash, null, { now: at, contentJson, relatesTo: target });
        this.d.rooms.apply(event, at);
        return true;
      },
      (inserted) => {
        if (inserted) this.notifyEvent(event);
      },
    );
    if (stored) this.d.log.debug({ event: 'own_event_recovered', room_id: roomId, event_id: event.event_id }, 'recovered an event of ours from the members');
    return stored;
  }

  /** The id of a key of ours whose signature of the event verifies (one valid when it was signed), or null. */
  private signedByUs(envelope: Envelope, bytes: Buffer): string | null {
    const signatures = envelope.signatures[this.server] ?? {};
    const keys = this.d.identity().allPublicKeys();
    for (const [keyId, signature] of Object.entries(signatures)) {
      const key = keys.find((k) => k.key_id === keyId);
      if (!key || (key.expired_at !== null && envelope.origin_ts > key.expired_at)) continue;
      if (typeof signature === 'string' && /^[0-9a-f]{128}$/i.test(signature) && verify(Buffer.from(signature, 'hex'), bytes, Buffer.from(key.public_key, 'hex'))) return keyId;
    }
    return null;
  }
}

/** The member's next cursor, when it moves strictly forward (depth, then event id); else null. */
function advancedCursor(body: { next_since_depth?: unknown; next_since_event_id?: unknown } | null, current: { depth: number; eventId: string }) {
  const depth = body?.next_since_depth;
  const id = body?.next_since_event_id;
  if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < current.depth) return null;
  if (typeof id !== 'string' || id.length > 255 || !EVENT_ID.test(id)) return null;
  if (depth === current.depth && id <= current.eventId) return null;
  return { depth, eventId: id };
}
