/**
 * Schemas the admin operations of several resources share (shared/contract/admin/*.ts): server names,
 * user, room and event ids, the acting user, rate limits.
 */
import { z } from 'zod';
import { EVENT_ID, ROOM_ID, canonicalServerName, isUserId, isUserIdOfAnyDialect } from '../../identifiers.ts';

/** A server name as the owner types it, canonicalised (shared/identifiers.ts); numeric/hex/octal IPv4 spellings are refused. */
export const serverNameSchema = z.string().transform((s, ctx) => {
  const canonical = canonicalServerName(s);
  if (canonical === null) {
    ctx.addIssue({ code: 'custom', message: 'must be a host name (letters, digits, dots, dashes), a dotted-quad IPv4 address or a bracketed IPv6 address, with an optional :port' });
    return z.NEVER;
  }
  return canonical;
});

export const userId = z.string().refine(isUserId, 'must look like @localpart:server');

export const anyDialectUserId = z.string().refine(isUserIdOfAnyDialect, 'must look like @localpart:server');

export const roomId = z.string().max(255).regex(ROOM_ID, 'must look like !opaque:server');

export const eventId = z.string().max(255).regex(EVENT_ID, 'must look like $opaque:server');

/**
 * An operation a member of this server (issue #34) may use too, as themselves: the client API on the
 * federation listener (main/core/client/) serves exactly the operations that carry it, at the same
 * path. `acting` names the input field that holds the acting user (the client API sets it to the
 * session's user and refuses a request naming another); null: the operation acts as nobody.
 * `room`: the room of the input's `room_id` must be one the member has joined ('joined', the
 * default), joined or been invited to ('seen'), joined as the room's owner or a moderator
 * ('moderated': inviting others, issue #34 "rooms they host or moderate"), has joined now, or once
 * and its latest join ended — it left, was removed or banned, and may be invited again since
 * ('read': reading its messages, up to that end for one not joined now, read-only:
 * rooms/message-page.ts `readsUpTo`), or is not checked ('unchecked':
 * joining a room hosted on another server, whose host decides).
 */
export interface MemberUse {
  readonly acting: 'user_id' | 'inviter' | 'actor' | null;
  readonly room?: 'joined' | 'seen' | 'moderated' | 'read' | 'unchecked';
}

/** The local user an operation acts as; the owner when absent. */
export const actingUser = { user_id: userId.optional() };

export const rateLimitSchema = z.strictObject({ per_second: z.number().positive().max(100_000), burst: z.number().int().positive().max(1_000_000) });
