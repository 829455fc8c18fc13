import Router from '../../../http/router.ts';
import { serverOf } from '../../../../../shared/identifiers.ts';
import { HttpError, notFound } from '../../../errors.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import { envelopeWireJson } from '../../envelope.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { refuseQuarantinedReader, type SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { EVENT_PATH } from '../../paths.ts';


/**
 * POST /_paracord/federation/v1/event — deliver one signed event (202 {event_id, inserted}).
 * GET  /_paracord/federation/v1/event/:event_id — fetch one, for servers entitled to it.
 */
export function eventRoutes(deps: FederationDeps): Router {
  const router = new Router();

  router.post(EVENT_PATH, deps.verifySignedRequest, async (ctx) => {
    const state = ctx.state as SignedRequestState;
    const raw = parseJsonBody(state.rawBody);
    // An invite of one of our users queued by its room's host (issue #32): taken as its POST /invite.
    const invite = await deps.rooms().receiveInviteEvent(state.origin, raw);
    if (invite !== false) {
      ctx.status = 202;
      // A copy of an invite stored already is no news (a mailbox's page of such copies is paced: fetcher.ts).
      ctx.body = { event_id: (raw as { event_id: string }).event_id, inserted: invite === 'taken' };
      return;
    }
    // verifyAll: its checks' three database reads share one read transaction (issue #17).
    let verified;
    try {
      verified = await deps.ingest.verifyAll(state.origin, [raw])[0]!;
    } catch (error) {
      // A reference 3.x pushes every membership event to every trusted peer and retries any 4xx
      // for 24 h (docs/PROTOCOL.md): one for a room we are not in is taken as nothing to store.
      if (error instanceof HttpError && error.code === 'unknown_room' && isMemberEventOf(raw) && deps.referenceVersion?.(state.origin) === '3') {
        ctx.status = 202;
        ctx.body = { event_id: (raw as { event_id: string }).event_id, inserted: false };
        return;
      }
      throw error;
    }
    // Same transaction as the event: the replay entry is durable exactly when the event is. Written
    // once the event is accepted: a refused one writes nothing in its job (the middleware records
    // its replay entry in a job of its own), so its rollback keeps the caches (EventIngest.store).
    const result = await deps.ingest.store(verified, state.origin, undefined, {
      accepted: () => deps.replay.record(state.signature, state.origin, state.requestTs, state.replayForWeek === true),
    });
    state.replayRecorded = true;
    ctx.status = 202;
    ctx.body = result;
  });

  router.get(`${EVENT_PATH}/:event_id`, deps.verifySignedRequest, (ctx) => {
    const state = ctx.state as SignedRequestState;
    refuseQuarantinedReader(state);
    const eventId = ctx.params.event_id ?? '';
    const event = deps.events.get(eventId);
    // Not entitled looks the same as absent: the id's existence is not disclosed.
    if (!event || !deps.isEntitledToEvent(state.origin, event)) {
      throw notFound('not_found', `no event ${eventId} visible to ${state.origin}`);
    }
    ctx.type = 'application/json';
    ctx.body = envelopeWireJson(event);
  });

  return router;
}

/** A member event with a string event id (the reference's `m.member.join` / `m.member.leave`). */
function isMemberEventOf(raw: unknown): boolean {
  const e = raw as { event_type?: unknown; event_id?: unknown } | null;
  return typeof e?.event_id === 'string' && e.event_id.length <= 255 && (e.event_type === 'm.member.join' || e.event_type === 'm.member.leave');
}

/** Who may fetch an event: its origin, the host of its room, and servers with joined members. */
export function eventEntitlement(isJoinedServer: (roomId: string, server: string) => boolean) {
  return (requester: string, event: { origin_server: string; room_id: string }): boolean =>
    requester === event.origin_server || requester === serverOf(event.room_id) || isJoinedServer(event.room_id, requester);
}
