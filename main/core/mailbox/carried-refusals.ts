/**
 * What our listener refused for good of a request a mailbox carried (docs/PROTOCOL.md
 * "Mailboxes", capability `mailbox_refusals`): the events of an event push (`POST /event`) or a
 * batch (`POST /events`) answered with a final 4xx (not 429, not 409 `replayed_request`: taken
 * before). They are kept per mailbox under the carried item's id (mailbox_refusals_out) and named
 * in the ack to that mailbox, which tells their depositor; it marks them failed, not delivered.
 *
 * Read in two places: the self-dispatch's answer (fetcher.ts: kept with the page's cursor), and
 * the listener itself (verify-signed-request.ts: kept in the commit that records the request's
 * replay entry, so a crash before the page's cursor is saved does not lose them: the copy handed
 * over again would only answer "taken before").
 */
import type { Context } from 'koa';
import { HttpError } from '../errors.ts';
import { isNotYetStatus } from '../federation/fetched-event-failure.ts';
import type { AckRefusal } from '../federation/page-acks.ts';
import { EVENT_PATH, EVENTS_PATH } from '../federation/paths.ts';
import { DISPATCH_ITEM_HEADER, DISPATCH_VIA_HEADER } from './self-dispatch.ts';
import { isServerName } from '../../../shared/identifiers.ts';

/** A refusal's code on the wire: 1–64 of a-z and _ (another is sent as `refused`). */
export const REFUSAL_CODE = /^[a-z_]{1,64}$/;

const isFinal = (status: unknown): status is number => typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500 && !isNotYetStatus(status);

function eventIdOf(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' && id.length >= 1 && id.length <= 255 ? id : null;
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return null;
  }
}

/**
 * The events refused for good by our answer (`status`, its JSON `answer`) to a carried request
 * (`path`, `body`): one event's, a batch's per-event results, or every event of a batch refused
 * whole. None for any other request, a "not yet" or a "taken before".
 */
export function carriedRefusals(path: string, body: string, status: number, answer: unknown): Omit<AckRefusal, 'id'>[] {
  if (path !== EVENT_PATH && path !== EVENTS_PATH) return [];
  const code = (answer as { error?: unknown } | null)?.error;
  const refusal = (eventId: string | null, s: number, error: unknown) => (eventId === null ? [] : [{ event_id: eventId, status: s, error: typeof error === 'string' && REFUSAL_CODE.test(error) ? error : 'refused' }]);
  const results = (answer as { results?: unknown } | null)?.results;
  if (path === EVENTS_PATH && status >= 200 && status < 300 && Array.isArray(results)) {
    return results.flatMap((r: unknown) => {
      const result = r as { status?: unknown; error?: unknown } | null;
      return isFinal(result?.status) ? refusal(eventIdOf(result), result.status, result.error) : [];
    });
  }
  if (!isFinal(status) || (status === 409 && code === 'replayed_request')) return [];
  const request = parse(body);
  if (path === EVENT_PATH) return refusal(eventIdOf(request), status, code);
  const events = (request as { events?: unknown } | null)?.events;
  return Array.isArray(events) ? events.slice(0, 1000).flatMap((e: unknown) => refusal(eventIdOf(e), status, code)) : [];
}

/**
 * In our listener, for a request this process handed over from a mailbox's page (the item and
 * mailbox headers, trusted only with the hand-over secret): the mailbox, the item id and what the
 * answer (or `failure`) refused for good. Null for anything else.
 */
export function dispatchedRefusals(ctx: Context, rawBody: Buffer | undefined, failure: unknown): { mailbox: string; itemId: number; refused: AckRefusal[] } | null {
  const item = ctx.get(DISPATCH_ITEM_HEADER);
  const mailbox = ctx.get(DISPATCH_VIA_HEADER).toLowerCase();
  if (rawBody === undefined || !/^[0-9]{1,15}$/.test(item) || !isServerName(mailbox)) return null;
  const status = failure === undefined ? ctx.status : failure instanceof HttpError ? failure.status : 500;
  const answer = failure === undefined ? ctx.body : failure instanceof HttpError ? { error: failure.code } : null;
  const refused = carriedRefusals(ctx.path, rawBody.toString('utf8'), status, answer).map((r) => ({ id: item, ...r }));
  return refused.length > 0 ? { mailbox, itemId: Number(item), refused } : null;
}

/**
 * The event ids a carried request carries (an event push, or a batch's first 1,000: no refusal
 * names more, as carriedRefusals reads no more; a depositor's body cannot make a deposit write
 * more rows); none for another request.
 */
export function carriedEventIds(path: string, body: string): Set<string> {
  if (path !== EVENT_PATH && path !== EVENTS_PATH) return new Set();
  const request = parse(body);
  const events = path === EVENT_PATH ? [request] : (request as { events?: unknown } | null)?.events;
  return new Set(Array.isArray(events) ? events.slice(0, 1000).map(eventIdOf).filter((id): id is string => id !== null) : []);
}
