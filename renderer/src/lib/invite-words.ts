/**
 * Why an invitation was refused, in words about the person invited: the node's sentences for
 * `already_joined` and `unknown_user` speak of the viewer ("You are already in this room", "no
 * such user on your node"), which is false when inviting someone else (a helper's UI check of the
 * members' app). Null: the general words (errors.ts) hold. Pure: invite-words.test.ts.
 */
import { AdminError } from '../../../shared/contract/client.ts';
import type { Explained } from './errors.ts';

export function inviteRefusal(error: unknown, user: string): Explained | null {
  if (!(error instanceof AdminError)) return null;
  const details = `${error.code} (${error.status}): ${error.message}`;
  if (error.code === 'already_joined') return { text: `${user} is already in this room.`, details };
  if (error.code === 'unknown_user') {
    const server = user.slice(user.indexOf(':') + 1);
    return { text: server && user.includes(':') ? `${server} has no user ${user}.` : `There is no user ${user}.`, details };
  }
  return null;
}
