/**
 * What a failure to take a fetched event means, decided in one place for every path that fetches
 * events and keeps a cursor (catch-up from a room's host, pull from our pull host, polls of a
 * reference server): none of them may move its cursor past an event that was not refused.
 *
 * - `refused`: a verdict on the event (4xx other than 429): skipped, as a push of it would fail.
 * - `quota`: over a storage quota here (429): waits for its Retry-After; never skipped.
 * - `unchecked`: it could not be checked now — its signer's keys could not be read (503
 *   `keys_unavailable`, `keys_recently_fetched`): tried again after `waitMs`, while its
 *   `UncheckedRetries` window lasts (a peer can name keys that are never readable).
 * - `failure`: a failure of ours (the database, another 5xx): tried again after `waitMs`, for as
 *   long as it lasts (nothing a peer chooses; giving up would lose events to a local outage).
 */
import { HttpError } from '../errors.ts';
import { isLocalFailure } from '../util/local-failure.ts';
import { quotaWait } from '../trust/storage-quota.ts';

export type FetchedEventFailure =
  | { kind: 'refused'; message: string }
  | { kind: 'quota'; waitMs: number; message: string }
  | { kind: 'unchecked'; waitMs: number; message: string }
  | { kind: 'failure'; waitMs: number; message: string };

/** How long an event not taken waits without a Retry-After (a failure of ours). */
const UNCHECKED_DEFAULT_WAIT_MS = 30_000;
/** The longest Retry-After taken for an event not taken. */
const UNCHECKED_MAX_WAIT_MS = 10 * 60_000;

/** An answer status that is no verdict, only "not yet": 429 (a limit here) or 5xx (not checkable now, a failure here). */
export function isNotYetStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Whether a thrown error is a final refusal: an HttpError with a 4xx other than 429 (a verdict, not "not yet"). */
export function isFinalRefusal(error: unknown): error is HttpError {
  return error instanceof HttpError && error.status >= 400 && !isNotYetStatus(error.status);
}

/** Whether a thrown error answers "not yet" (429, or 5xx / not an HttpError: a failure here) rather than a verdict. */
export function isNotYetError(error: unknown): boolean {
  return !(error instanceof HttpError) || isNotYetStatus(error.status);
}

export function fetchedEventFailure(error: unknown): FetchedEventFailure {
  const message = error instanceof Error ? error.message : String(error);
  const quota = quotaWait(error);
  if (quota) return { kind: 'quota', ...quota };
  if (error instanceof HttpError && error.status < 500) return { kind: 'refused', message };
  // Anything else thrown on a peer's input (a TypeError on a shape no check foresaw) is no local
  // outage: taken as a refusal, so a hostile peer cannot hold a cursor for good with it.
  if (!(error instanceof HttpError) && !isLocalFailure(error)) return { kind: 'refused', message };
  const seconds = error instanceof HttpError ? Number(error.headers['retry-after']) : NaN;
  const waitMs = Number.isFinite(seconds) && seconds >= 1 ? Math.min(seconds * 1000, UNCHECKED_MAX_WAIT_MS) : UNCHECKED_DEFAULT_WAIT_MS;
  const keys = error instanceof HttpError && (error.code === 'keys_unavailable' || error.code === 'keys_recently_fetched');
  return { kind: keys ? 'unchecked' : 'failure', waitMs, message };
}

/**
 * How long an event that cannot be checked is tried again before it is given up as refused. Longer
 * than a failed discovery is remembered (an hour: keys_unavailable that long), bounded so that an
 * origin whose keys are never readable (or a hostile host naming one) cannot hold a room's cursor
 * for good.
 */
export const UNCHECKED_RETRY_FOR_MS = 2 * 60 * 60_000;
/**
 * What an event given up unchecked (its window over) stands for: a refusal (403
 * `unchecked_given_up`), which a pull ack names, so that its sender shows it not delivered, "could
 * not be checked", rather than taking it as delivered.
 */
export function givenUpUnchecked(message: string): HttpError {
  return new HttpError(403, 'unchecked_given_up', `its signer's keys could not be read for hours; given up (${message})`);
}

/** Unchecked events remembered at most per source (the server whose page served them). */
const MAX_TRACKED_PER_SOURCE = 10_000;
/** Of them, at most this many signed by one origin: its further ones are given up at once. */
const MAX_TRACKED_PER_ORIGIN = 2_500;

/** One source's windows: each event's first meeting and its origin, and how many each origin holds. */
interface SourceWindows {
  firstMet: Map<string, { at: number; origin: string }>;
  perOrigin: Map<string, number>;
  /** When windows over were last cleared out of a full source (at most once a minute: a scan of all). */
  clearedAt: number;
}

/** How often a full source looks for windows that are over (events not met again since) to make room. */
const CLEAR_EVERY_MS = 60_000;

/**
 * When each unchecked event was first met: whether it is still tried again. In memory (a restart
 * starts each window again).
 *
 * Windows are kept per source (the pull host, the room's host in catch-up, the polled reference
 * server), and within a source at most MAX_TRACKED_PER_ORIGIN per origin. No window still running
 * is forgotten to make room, since a forgotten event met again would start a new one: a peer
 * serving fresh unreadable events could then keep another peer's event (and the page or room
 * behind it) tried again for good. An event met while its source or origin is full gets no window:
 * it is tried again (not given up: an honest busy origin's events are not lost for want of room),
 * and its caller bounds that (catch-up gives it up once its room has been held too long; a pull or
 * a poll stops at it, and holds no more than a page of windows). So one source's pages cannot touch
 * another source's windows, and inside an honest source one origin's flood fills only its share.
 * Sources are servers the owner chose (pull hosts, peers polled) or hosts of rooms our users joined.
 */
export class UncheckedRetries {
  private readonly sources = new Map<string, SourceWindows>();

  private readonly forMs: number;

  constructor(forMs = UNCHECKED_RETRY_FOR_MS) {
    this.forMs = forMs;
  }

  /**
   * True while `eventId` (served by `source`, signed by `origin`) is still to be tried again (also
   * when it could get no window: `age` then says so); false once its window is over (then forgotten).
   */
  retry(source: string, eventId: string, origin: string | null, now = Date.now()): boolean {
    const windows = this.sources.get(source);
    const first = windows?.firstMet.get(eventId);
    if (first === undefined) {
      this.open(source, eventId, origin ?? source, now);
      return true;
    }
    if (now - first.at < this.forMs) return true;
    this.settled(source, eventId);
    return false;
  }

  /**
   * How long `eventId` has been tried; Infinity when it has no window (met while its source or
   * origin was full, or never met): a caller bounding such events gives them up first.
   */
  age(source: string, eventId: string, now = Date.now()): number {
    const first = this.sources.get(source)?.firstMet.get(eventId);
    return first === undefined ? Infinity : now - first.at;
  }

  /** Starts `eventId`'s window if it has none (an event met behind another one that stops the page). */
  start(source: string, eventId: string, origin: string | null, now = Date.now()): void {
    if (this.sources.get(source)?.firstMet.has(eventId) !== true) this.open(source, eventId, origin ?? source, now);
  }

  /** The event was taken (or refused for good): forgotten. */
  settled(source: string, eventId: string): void {
    const windows = this.sources.get(source);
    const first = windows?.firstMet.get(eventId);
    if (!windows || first === undefined) return;
    windows.firstMet.delete(eventId);
    const held = (windows.perOrigin.get(first.origin) ?? 1) - 1;
    if (held > 0) windows.perOrigin.set(first.origin, held);
    else windows.perOrigin.delete(first.origin);
    if (windows.firstMet.size === 0) this.sources.delete(source);
  }

  /** A new window, when the source and the origin have room for it (false: none). */
  private open(source: string, eventId: string, origin: string, now: number): boolean {
    let windows = this.sources.get(source);
    if (!windows) {
      windows = { firstMet: new Map(), perOrigin: new Map(), clearedAt: now };
      this.sources.set(source, windows);
    }
    const full = () => windows.firstMet.size >= MAX_TRACKED_PER_SOURCE || (windows.perOrigin.get(origin) ?? 0) >= MAX_TRACKED_PER_ORIGIN;
    if (full() && now - windows.clearedAt >= CLEAR_EVERY_MS) {
      // Windows over whose events were not met again (their page moved on, the room was left): no longer news to anyone.
      windows.clearedAt = now;
      for (const [id, first] of windows.firstMet) if (now - first.at >= this.forMs) this.settled(source, id);
      if (!this.sources.has(source)) return this.open(source, eventId, origin, now);
    }
    if (full()) return false;
    windows.firstMet.set(eventId, { at: now, origin });
    windows.perOrigin.set(origin, (windows.perOrigin.get(origin) ?? 0) + 1);
    return true;
  }
}

/** The origin a fetched event names (its signer), when it names one; else null. */
export function fetchedEventOrigin(raw: unknown): string | null {
  const origin = (raw as { origin_server?: unknown } | null)?.origin_server;
  return typeof origin === 'string' && origin.length > 0 && origin.length <= 255 ? origin : null;
}

/** The event id of a fetched event not yet checked, when it names one (else null: nothing to track it by). */
export function fetchedEventId(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 255 ? id : null;
}
