import { z } from 'zod';
import { ROOM_ID, USER_ID, isServerName } from '../../../../../shared/identifiers.ts';

const serverName = z.string().refine(isServerName, 'not a valid server name');
const roomId = z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server');
const userId = z.string().max(255).regex(USER_ID, 'must look like @localpart:server');

/** `POST /invite`: with `invitee` an invite for one of our users; without, a join preflight. */
export const inviteBodySchema = z.object({
  origin_server: serverName,
  room_id: roomId,
  sender: userId.optional(),
  max_age_seconds: z.number().int().positive().max(30 * 24 * 3600).default(7 * 24 * 3600),
  invitee: userId.optional(),
  room_name: z.string().max(100).optional(),
  event: z.unknown().optional(),
});

/** `POST /join` and `POST /leave`: reference fields, then our signed membership event. */
export const membershipBodySchema = z.object({
  origin_server: serverName,
  room_id: roomId,
  user_id: userId,
  event: z.unknown().optional(),
});
