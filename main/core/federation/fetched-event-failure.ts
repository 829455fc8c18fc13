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

/** Event ids remembered at most (the oldest forgotten first: its window starts again). */
const MAX_TRACKED = 10_000;

/** When each unchecked event was first met: whether it is still tried again. In memory (a restart starts each window again). */
export class UncheckedRetries {
  private readonly firstMet = new Map<string, number>();

  private readonly forMs: number;

  constructor(forMs = UNCHECKED_RETRY_FOR_MS) {
    this.forMs = forMs;
  }

  /** True while `eventId` is still to be tried again; false once its window is over (then forgotten). */
  retry(eventId: string, now = Date.now()): boolean {
    const first = this.firstMet.get(eventId);
    if (first === undefined) {
      if (this.firstMet.size >= MAX_TRACKED) this.firstMet.delete(this.firstMet.keys().next().value!);
      this.firstMet.set(eventId, now);
      return true;
    }
    if (now - first < this.forMs) return true;
    this.firstMet.delete(eventId);
    return false;
  }

  /** How long `eventId` has been tried (0 when it is not). */
  age(eventId: string, now = Date.now()): number {
    const first = this.firstMet.get(eventId);
    return first === undefined ? 0 : now - first;
  }

  /** Starts `eventId`'s window if it has none (an event met behind another one that stops the page). */
  start(eventId: string, now = Date.now()): void {
    if (!this.firstMet.has(eventId)) this.retry(eventId, now);
  }

  /** The event was taken (or refused for good): forgotten. */
  settled(eventId: string): void {
    this.firstMet.delete(eventId);
  }
}

/** The event id of a fetched event not yet checked, when it names one (else null: nothing to track it by). */
export function fetchedEventId(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 255 ? id : null;
}
