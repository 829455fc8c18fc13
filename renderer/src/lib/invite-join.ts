/**
 * Where the join our user sent for an invite stands, in words (admin `listInvites` `join`): left
 * at a friend's mailbox while the room's host is away, sent with no answer, or refused by the
 * host, its reason in the same words as any error and its own text behind "details".
 */
import { AdminError } from '../../../shared/contract/client.ts';
import type { RoomInvite } from '../../../shared/contract/admin-operations.ts';
import { explainError, type Explained } from './errors.ts';
import { ago } from './format.ts';
import { ownValue } from '../../../shared/own-value.ts';

/** Reasons whose sentence elsewhere speaks of somebody else (a moderator's view): here it is the user. */
const JOIN_REASONS: Readonly<Record<string, string>> = {
  banned: 'You are banned from this room.',
  not_invited: 'It has no invitation for you (it may have been withdrawn).',
};

/** The line shown under an invite our user accepted; null when they have not. */
export function inviteJoinLine(invite: Pick<RoomInvite, 'host_server' | 'join'>, now = Date.now()): Explained | null {
  const join = invite.join;
  if (!join) return null;
  const host = invite.host_server;
  if (join.state === 'waiting') {
    return { text: `You accepted ${ago(join.since, now)}. ${host} is away: your join was left at ${join.mailbox ?? 'a friend\'s mailbox'} for it, with no answer yet. The room appears when it answers.`, details: '' };
  }
  if (join.state === 'unanswered') {
    return { text: `You accepted ${ago(join.since, now)}, but ${host} has not let you in yet (it was not reached, asked you to wait, or its answer was lost). Accept again to ask again.`, details: '' };
  }
  const code = join.error ?? 'peer_refused';
  // Not a refusal: the host answered in a way this node could not read.
  if (code === 'bad_snapshot') return { text: `${host} answered, but its answer could not be read. Accept again to ask again.`, details: join.message ?? '' };
  const why = code === 'peer_refused' ? null : ownValue(JOIN_REASONS, code) ?? explainError(new AdminError(403, code, join.message ?? '')).text;
  return { text: why ? `${host} refused to let you join: ${why}` : `${host} refused to let you join.`, details: join.message ?? '' };
}
