/**
 * Where a destination's requests go (delivery-worker.ts): nowhere while it pulls from us (its
 * rows wait for its GET /pull, pull-queue.ts); only to its mailbox when its endpoint was never
 * reached (issue #32); otherwise straight to it, or to its mailbox for a while after a direct one
 * failed, and to its mailbox when the direct request fails.
 */
import { infoLimited } from '../log/rate-limit.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import type { Identity } from '../identity/identity.ts';
import type { DeliveryDeps } from './delivery-deps.ts';
import { PLAIN_TEXT_REFUSALS } from './delivery-outcomes.ts';

/** What one request came to: the destination's (or a mailbox's) answer, or the network error. */
export interface SentRequest {
  response: FederationResponse | undefined;
  networkError: string | undefined;
  /** The mailbox that took the request instead of the destination (issue #32), if any. */
  deposited: string | null;
}

/**
 * Whether `destination`'s rows wait for its GET /pull (pull-queue.ts). Not a peer whose endpoint
 * was never reached, that does not pull from us and that has a mailbox (it peered through one,
 * issue #32): its requests go to that mailbox only, never to the endpoint it named.
 */
export function waitsForPull(deps: DeliveryDeps, destination: string): boolean {
  const pull = deps.pull;
  if (!pull?.isPullDestination(destination)) return false;
  return !mailboxOnly(deps, destination);
}

export function mailboxOnly(deps: DeliveryDeps, destination: string): boolean {
  const pull = deps.pull;
  return pull !== undefined && pull.unreachedReason(destination) !== null && !pull.pulledRecently(destination) && deps.mailbox?.mailboxOf(destination) != null;
}

/** The mailbox pushes go to (issue #32): only there, or for a while after a direct one failed; null when they go straight to it. */
export function viaMailbox(deps: DeliveryDeps, destination: string): string | null {
  return deps.mailbox && (mailboxOnly(deps, destination) || deps.mailbox.preferred(destination)) ? deps.mailbox.mailboxOf(destination) : null;
}

/**
 * Whether a direct answer is a node's (ours and the reference answer a push, and its 5xx, with a
 * JSON object), or a page of whatever else answered at the address, which says the node was not
 * reached. A reference's plain-text 400, 413, 415 or 422 is left to the outcome (delivery-outcomes.ts:
 * its refusal); any other page is a page (a proxy's 403 while its node upgrades).
 */
function isNodeAnswer(response: FederationResponse, plainRefusals: boolean): boolean {
  const answered = typeof response.json === 'object' && response.json !== null && !Array.isArray(response.json);
  return answered || (plainRefusals && PLAIN_TEXT_REFUSALS.has(response.status));
}

/** Sends one request to `destination`, or leaves it at a mailbox of it; never throws. */
export async function sendRequest(deps: DeliveryDeps, identity: Identity, destination: string, path: string, body: string, count: number, abort: AbortController): Promise<SentRequest> {
  const { log } = deps;
  let response: FederationResponse | undefined;
  let networkError: string | undefined;
  let deposited: string | null = null;
  const mailbox = deps.mailbox;
  try {
    // Never pushed to an endpoint we never reached (issue #32): only its mailbox.
    const onlyMailbox = mailboxOnly(deps, destination);
    let left = mailbox && (onlyMailbox || mailbox.preferred(destination)) ? await mailbox.deposit(identity, destination, path, body, abort.signal) : null;
    // A lone event the mailbox refuses as too large (413) is tried straight at the destination
    // after all; if that fails too, the mailbox's answer stands (the entry fails with it:
    // delivery-outcomes.ts), and the entries behind it go on.
    const tooLarge = left !== null && left.response.status === 413 && count === 1 && !onlyMailbox;
    if (left === null && onlyMailbox) networkError = `${destination} was never reached directly, and ${mailbox!.whyNot(destination)}`;
    else if (left === null || tooLarge) {
      let unreached: string | undefined;
      try {
        const endpoint = await deps.discovery.endpointOf(destination);
        response = await deps.http.signed(identity, 'POST', endpoint, path, body, { signal: abort.signal, destination });
        // Something else answered at its address (a proxy's error page while the node is down, a
        // portal's page): no node answer, so, like no answer at all, the mailbox may carry it (and
        // after the mailbox's 413, that answer stands: the event fails alone in its words).
        if (isNodeAnswer(response, deps.plainRefusals?.(destination) ?? false)) left = null;
        else unreached = `its address answered HTTP ${response.status} with a page, not a node's answer`;
      } catch (error) {
        networkError = (error as Error).message;
        unreached = networkError;
      }
      // Nobody reaches it: leave the same request at a mailbox of it (not again at the one that found it too large).
      if (unreached !== undefined && mailbox && !abort.signal.aborted) {
        if (!tooLarge) left = await mailbox.deposit(identity, destination, path, body, abort.signal);
        // Its mailbox goes first for a while only when one took it (or answered it: the 413): else
        // each attempt would ask our peers for its mailbox again before trying it straight.
        if (left !== null) mailbox.noteUnreachable(destination);
        if (left === null && !abort.signal.aborted) {
          // Not reached, and no mailbox took it: said as for no answer at all (the page is not its node's word).
          networkError = `${networkError ?? unreached}; ${mailbox.whyNot(destination)}`;
          response = undefined;
        }
      }
    }
    // (Cut by a stop while it was tried straight after the mailbox's 413: the network error stands,
    // so that the entry stays queued untouched, not failed with the mailbox's answer.)
    if (left !== null && !(tooLarge && abort.signal.aborted && networkError !== undefined)) {
      response = left.response;
      deposited = left.mailbox;
      networkError = undefined;
    }
  } catch (error) {
    networkError ??= (error as Error).message;
  }
  if (deposited !== null && response?.status === 200) {
    infoLimited(log, `delivery_deposited ${destination}`, { event: 'delivery_deposited', destination, mailbox: deposited, count }, `left at ${deposited}'s mailbox for ${destination} to fetch`);
  }
  return { response, networkError, deposited };
}
