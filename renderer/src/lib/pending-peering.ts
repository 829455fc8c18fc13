/**
 * A peering request left at a mailbox for a friend nobody reaches (issue #32), in words: waiting
 * there, refused (the friend's reason as a sentence, its own words behind "details"), or expired
 * before the friend fetched it (the node stops resending it then, and would refuse a late answer).
 * Before, the friend's raw words showed in the line, with "Ask for a new link" whatever the reason,
 * and an expired request said it waited for good (a helper's UI check). Pure: pending-peering.test.ts.
 */
import type { PendingPeering } from '../../../shared/contract/admin/peer-invites.ts';
import { explainCause, type Explained } from './errors.ts';

export function pendingPeeringLine(p: PendingPeering, now: number): { state: 'refused' | 'expired' | 'waiting'; text: string; cause: Explained } {
  if (p.error !== null) return { state: 'refused', text: `${p.server_name} refused your request.`, cause: explainCause(p.error) };
  if (p.expires_at <= now) return { state: 'expired', text: `Your request to ${p.server_name} expired without an answer: ask your friend for a new link.`, cause: { text: '', details: '' } };
  return {
    state: 'waiting',
    text: `${p.server_name} cannot be reached right now: your request waits${p.waiting_at ? ` at ${p.waiting_at}'s node` : ''} until ${p.server_name} fetches it.`,
    cause: { text: '', details: '' },
  };
}
