import Router from '../../../http/router.ts';
import { z } from 'zod';
import { wholeNumber } from '../../../../../shared/contract/whole-number.ts';
import { EVENT_ID, ROOM_ID } from '../../../../../shared/identifiers.ts';
import { badRequest } from '../../../errors.ts';
import { formatZodError } from '../../../admin/format-zod-error.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { refuseQuarantinedReader, type SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { OWN_EVENTS_PATH } from '../../paths.ts';

/** The largest page a member serves a restored host (events; the byte budget holds too). */
export const OWN_EVENTS_MAX_LIMIT = 200;

export const ownEventsQuerySchema = z.strictObject({
  room_id: z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server'),
  since_depth: wholeNumber(0, Number.MAX_SAFE_INTEGER).default(0),
  // With since_depth, an exact cursor: the requester's events after (since_depth, since_event_id).
  since_event_id: z.string().max(255).regex(EVENT_ID, 'since_event_id must be an event id').optional(),
  limit: wholeNumber(1, OWN_EVENTS_MAX_LIMIT).default(100),
});

/**
 * `GET /own-events?room_id=&since_depth=[&since_event_id=]&limit=`: a member serves the room's
 * host (the signed request's origin must be the room's server) the events of that origin it
 * holds, so a host restored from a backup gets back what it sent after it (docs/PROTOCOL.md).
 */
export function ownEventsRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.get(OWN_EVENTS_PATH, deps.verifySignedRequest, (ctx) => {
    const state = ctx.state as SignedRequestState;
    refuseQuarantinedReader(state);
    const parsed = ownEventsQuerySchema.safeParse(ctx.query);
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const { room_id, since_depth, limit, since_event_id } = parsed.data;
    ctx.body = deps.rooms().ownEventsPage(state.origin, room_id, since_depth, limit, since_event_id);
  });
  return router;
}
