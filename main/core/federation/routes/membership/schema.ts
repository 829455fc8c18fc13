import { z } from 'zod';
import { MAX_INVITE_AGE_SECONDS } from '../../../../../shared/contract/admin/rooms.ts';
import { ROOM_ID, isSafeDisplayName, isServerName, isUserId, isUserIdOfAnyDialect } from '../../../../../shared/identifiers.ts';

const serverName = z.string().refine(isServerName, 'not a valid server name');
const roomId = z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server');
const userId = z.string().refine(isUserId, 'must look like @localpart:server');
/** A reference server's users may have Unicode names; the route checks the origin speaks that dialect. */
const anyDialectUserId = z.string().refine(isUserIdOfAnyDialect, 'must look like @localpart:server');

/** `POST /invite`: with `invitee` an invite for one of our users; without, a join preflight. */
export const inviteBodySchema = z.object({
  origin_server: serverName,
  room_id: roomId,
  sender: anyDialectUserId.optional(),
  // The reference sends Option<i64>: a number or null (client.rs:423-429).
  max_age_seconds: z.number().int().positive().max(MAX_INVITE_AGE_SECONDS).nullish().transform((v) => v ?? 7 * 24 * 3600),
  invitee: userId.optional(),
  room_name: z.string().max(100).refine(isSafeDisplayName, 'room_name must not contain control, bidi or invisible characters').optional(),
  event: z.unknown().optional(),
});

/** `POST /join` and `POST /leave`: reference fields, then our signed membership event. */
export const membershipBodySchema = z.object({
  origin_server: serverName,
  room_id: roomId,
  user_id: anyDialectUserId,
  event: z.unknown().optional(),
});

/** `POST /join-answer`: a host's answer to a join that came through a mailbox (issue #32). */
export const joinAnswerSchema = z.strictObject({
  origin_server: serverName,
  room_id: roomId,
  answer: z.record(z.string(), z.unknown()),
});

/**
 * A join-answer's `answer.refused`: the host refused the join it names (`join_event`, the
 * member's own signed event, checked as for a snapshot), with its error code and words, as a
 * direct answer would have said them (docs/PROTOCOL.md). Inside `refused`, not beside it: a node
 * that does not know refusals finds no `answer.join_event` and refuses the answer for good (400),
 * where a snapshot it could not read would be tried again. Fields added later are dropped.
 */
export const joinRefusalSchema = z.object({
  join_event: z.unknown(),
  error: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an error code: lower case letters, digits and _'),
  message: z.string().max(1_000),
});
export type JoinRefusal = z.output<typeof joinRefusalSchema>;
