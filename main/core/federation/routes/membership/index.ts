import Router from '../../../http/router.ts';
import type { z } from 'zod';
import { HttpError, badRequest, forbidden } from '../../../errors.ts';
import { isUserId, serverOf } from '../../../../../shared/identifiers.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import { formatZodError } from '../../../admin/format-zod-error.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { refuseQuarantinedReader, type SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { inviteBodySchema, joinAnswerSchema, joinRefusalSchema, membershipBodySchema, type JoinRefusal } from './schema.ts';
import { INVITE_PATH, JOIN_ANSWER_PATH, JOIN_PATH, LEAVE_PATH } from '../../paths.ts';
import { utf8Bytes } from '../../page-budget.ts';
import { isFinalRefusal } from '../../fetched-event-failure.ts';

/** The largest join event a refusal sends back (ours are a few hundred bytes). */
const MAX_ECHOED_JOIN_BYTES = 16 * 1024;

function parseBody<S extends z.ZodType>(schema: S, state: SignedRequestState): z.output<S> {
  const parsed = schema.safeParse(parseJsonBody(state.rawBody));
  if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
  const body = parsed.data as { origin_server: string };
  if (body.origin_server !== state.origin) throw forbidden('not_origin', `origin_server ${body.origin_server} is not the signing server ${state.origin}`);
  return parsed.data;
}

/** Room membership between servers: invite (and join preflight), join, leave. */
export function membershipRoutes(deps: FederationDeps): Router {
  const router = new Router();
  const rooms = deps.rooms;

  router.post(INVITE_PATH, deps.verifySignedRequest, async (ctx) => {
    const state = ctx.state as SignedRequestState;
    const body = parseBody(inviteBodySchema, state);
    if (body.invitee === undefined) {
      // The room's name, members and when it was last active: nothing of its rooms for a quarantined server.
      refuseQuarantinedReader(state);
      ctx.body = rooms().preflight(state.origin, body.room_id, body.max_age_seconds);
      return;
    }
    if (body.event === undefined) throw badRequest('event_required', 'an invite needs the signed m.member.invite event in "event"');
    ctx.body = await rooms().receiveInvite(state.origin, {
      room_id: body.room_id, invitee: body.invitee, max_age_seconds: body.max_age_seconds, event: body.event,
      ...(body.room_name ? { room_name: body.room_name } : {}),
    });
  });

  for (const [path, kind] of [[JOIN_PATH, 'join'], [LEAVE_PATH, 'leave']] as const) {
    router.post(path, deps.verifySignedRequest, async (ctx) => {
      const state = ctx.state as SignedRequestState;
      // A join that came through a mailbox gets no answer on its way back: the answer follows it
      // (issue #32), the snapshot or a final refusal. It names the join it answers (the member's
      // own signed event), which a direct answer leaves out. A join without an event, or a body
      // refused before it is read, names none: no answer goes back.
      const answerBack = (body: { room_id: string; event?: unknown }, answer: Record<string, unknown>) => {
        if (kind !== 'join' || !state.viaMailbox || body.event === undefined) return;
        deps.answerThroughMailbox?.(state.origin, JOIN_ANSWER_PATH, JSON.stringify({ origin_server: deps.identity.serverName, room_id: body.room_id, answer }));
      };
      // Its answer could not be sent now (as many on their way to that server as it may have):
      // "not yet", before anything is taken, so the mailbox hands the join over again later.
      if (kind === 'join' && state.viaMailbox && deps.mailboxAnswersFull?.(state.origin)) {
        throw new HttpError(429, 'rate_limited', `answers to ${state.origin} through a mailbox are on their way; try again in 30 s`, { 'retry-after': '30' });
      }
      const body = parseBody(membershipBodySchema, state);
      try {
        // A join is answered with the room's latest events: a quarantined server reads nothing of its
        // rooms (as its catch-up and GET /event), so its join is refused, event or not (its held join
        // would have been answered with them: the side door of docs/SECURITY.md 16b).
        if (kind === 'join') refuseQuarantinedReader(state);
        if (!isUserId(body.user_id) && !rooms().speaksReference(state.origin)) throw badRequest('invalid_request', 'user_id: must look like @localpart:server');
        ctx.body = await rooms().receiveMembership(state.origin, kind, body);
      } catch (error) {
        // A final refusal (a 4xx other than a limit: a mailbox's hand-over does not try it again)
        // goes back too, or the member's invite would look as if it waited for us for good.
        // Only for a join event of a join's size: what a peer sent is not echoed back at any size.
        if (isFinalRefusal(error) && utf8Bytes(JSON.stringify(body.event ?? null)) <= MAX_ECHOED_JOIN_BYTES) {
          answerBack(body, { refused: { join_event: body.event, error: error.code, message: error.message.slice(0, 1_000) } });
        }
        throw error;
      }
      answerBack(body, { join_event: body.event, ...(ctx.body as Record<string, unknown>) });
    });
  }

  router.post(JOIN_ANSWER_PATH, deps.verifySignedRequest, async (ctx) => {
    const state = ctx.state as SignedRequestState;
    const body = parseBody(joinAnswerSchema, state);
    if (serverOf(body.room_id) !== state.origin) throw forbidden('not_room_host', `${state.origin} does not host ${body.room_id}`);
    let refused: JoinRefusal | undefined;
    if (body.answer.refused !== undefined) {
      if (body.answer.join_event !== undefined) throw badRequest('invalid_request', 'answer: a refusal carries its join event inside "refused"');
      const parsed = joinRefusalSchema.safeParse(body.answer.refused);
      if (!parsed.success) throw badRequest('invalid_request', `answer.refused: ${formatZodError(parsed.error)}`);
      refused = parsed.data;
    }
    ctx.body = await rooms().receiveJoinAnswer(state.origin, body.room_id, body.answer, refused);
  });
  return router;
}
