import Router from '../../../http/router.ts';
import { z } from 'zod';
import { wholeNumber } from '../../../../../shared/contract/whole-number.ts';
import { EVENT_ID, ROOM_ID } from '../../../../../shared/identifiers.ts';
import { badRequest } from '../../../errors.ts';
import { formatZodError } from '../../../admin/format-zod-error.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { refuseQuarantinedReader, type SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { EVENTS_PATH } from '../../paths.ts';

const querySchema = z.object({
  room_id: z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server'),
  since_depth: wholeNumber(0, Number.MAX_SAFE_INTEGER).default(0),
  // With since_depth, an exact cursor: events after (since_depth, since_event_id) in display order.
  since_event_id: z.string().max(255).regex(EVENT_ID, 'since_event_id must be an event id').optional(),
  limit: wholeNumber(1, 500).default(100),
});

/** `GET /events?room_id=&since_depth=[&since_event_id=]&limit=` — catch-up for servers with joined members. */
export function catchUpRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.get(EVENTS_PATH, deps.verifySignedRequest, (ctx) => {
    const state = ctx.state as SignedRequestState;
    refuseQuarantinedReader(state);
    const parsed = querySchema.safeParse(ctx.query);
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const { room_id, since_depth, limit, since_event_id } = parsed.data;
    ctx.body = deps.rooms().catchUpPage(state.origin, room_id, since_depth, limit, since_event_id);
  });
  return router;
}
