/**
 * The words under an own message that still waits for some server (issue #16 item 5), from what
 * the node says of it (`MessageDelivery`): the servers it is being sent to, and apart, those it is
 * held for — nothing is sent to a server the owner blocked or put in quarantine (the node holds its
 * queue), so no "Waiting for …" or "next try" for them. Pure: lib/delivery-line.test.ts.
 */
import type { ChangeDelivery, MessageDelivery } from '../../../shared/contract/admin-operations.ts';
import { parseMailboxAnswer } from '../../../shared/mailbox-answer.ts';
import { explainCause, isGivenUpUnchecked, type Explained } from './errors.ts';
import { fromNow, plural } from './format.ts';

export interface WaitingLine {
  /** "Waiting for bob.example — next try in 40 s." for the servers it is being sent to; '' when none. */
  waiting: string;
  /** Why it is not sent to the others at all; '' when none is held. */
  held: string;
}

const names = (servers: readonly string[]): string => (servers.length === 1 ? servers[0]! : plural(servers.length, 'server'));

/**
 * `paused`: this server's federation is paused (the page's `sending_paused`): nothing is tried
 * until it resumes, so no "next try in …".
 */
export function waitingLine(delivery: Pick<MessageDelivery, 'pending_servers' | 'next_attempt_at' | 'held'>, opts: { member: boolean; reachable: boolean; paused?: boolean; now?: number }): WaitingLine {
  const now = opts.now ?? Date.now();
  const heldServers = delivery.held ?? [];
  const sending = delivery.pending_servers.filter((s) => !heldServers.includes(s));
  // The soonest next try belongs to the servers it is being sent to; a held one is not tried.
  const next = opts.paused ? (opts.member ? ' — the owner of this server has paused sending for now.' : ' — paused here until you resume federation (Dashboard).')
    : sending.length > 0 && opts.reachable && delivery.next_attempt_at && delivery.next_attempt_at > now + 1000 ? ` — next try ${fromNow(delivery.next_attempt_at, now)}.` : '…';
  const waiting = sending.length > 0 ? `Waiting for ${names(sending)}${next}` : '';
  const held = heldServers.length === 0 ? ''
    : opts.member ? `Not sent to ${names(heldServers)}: the owner of this server has stopped sending there for now.`
    : `Not sent to ${names(heldServers)}: nothing goes to a server you blocked or put in quarantine. It waits here until you allow ${heldServers.length === 1 ? 'it' : 'them'} (Peers).`;
  return { waiting, held };
}

/**
 * Servers that took a message and held it for review (`held_there`: their owner kept this server
 * in quarantine), in words: it was delivered, and shows there only if their owner accepts it. In
 * the past tense: nothing tells this server whether it was released or purged there since.
 */
export function heldThereLine(servers: readonly string[]): string {
  return servers.length === 1
    ? `Delivered to ${servers[0]}, which held it for review: it shows there only if its owner accepts it.`
    : `Delivered, but ${plural(servers.length, 'server')} held it for review: it shows there only if their owners accept it.`;
}

/**
 * A message not delivered to a server, in words: refused by it (its reason as a sentence, the raw
 * reason as details), or given up after waiting too long (`expired`), which that server never saw,
 * so it did not refuse anything (it was offline, or held while blocked or in quarantine), given
 * up there because it could not be checked (it was never judged either), or not taken by the
 * friend's mailbox it was left at (which that server never saw either).
 */
export function refusalLine(refusal: { server: string; reason: string }, opts: { member?: boolean } = {}): Explained {
  if (refusal.reason === 'expired') return { text: `Not delivered to ${refusal.server}: it waited too long and was given up.`, details: '' };
  if (refusal.reason === 'dropped') return { text: droppedWords('It', refusal.server, opts.member), details: '' };
  if (isGivenUpUnchecked(refusal.reason)) return { text: `Not delivered to ${refusal.server}: ${uncheckedWords}`, details: refusal.reason };
  if (parseMailboxAnswer(refusal.reason)) return { text: `Not delivered to ${refusal.server}: ${mailboxWords(refusal.reason)}`, details: refusal.reason };
  const cause = explainCause(refusal.reason);
  return { text: `Not delivered: refused by ${refusal.server}. ${cause.text}`, details: refusal.reason };
}

/**
 * Why an entry a friend's mailbox did not take failed (a lone event it refused as too large,
 * outbox/delivery-outcomes.ts): the server it was for never saw it, so not "refused by" it.
 */
function mailboxWords(reason: string): string {
  const said = explainCause(reason).text;
  return `it could not be sent there directly, and ${said.charAt(0).toLowerCase()}${said.slice(1)}`;
}

/** Why a server gave an event up unchecked (after "Not delivered to bob.example: "). */
const uncheckedWords = 'it could not check it (for hours it could not read the keys it was signed with), so it gave up on it.';

/**
 * An entry the owner dropped from the queue: it may have reached the server anyway (an attempt
 * under way, a pull, the room's history), so not "not delivered". Only the owner drops entries.
 */
function droppedWords(what: string, server: string, member = false): string {
  return `${what} was dropped from the queue for ${server}${member ? ' by the owner of this server' : ''}: it may not have reached it.`;
}

const CHANGE_WORDS: Record<ChangeDelivery['kind'], string> = {
  edit: 'Your edit',
  delete: 'Your deletion',
  reaction: 'Your reaction',
  reaction_removed: 'Taking back your reaction',
};

/**
 * Where a message (or a change: `what`, "Your edit") left at friends' mailboxes waits, in words:
 * at a mailbox for its server to fetch it, or fetched by that server, which keeps it and tries it
 * again after a wait (its limit, a failure there: capability mailbox_waiting); it may still refuse
 * it then. Not delivered yet either way.
 */
export function atMailboxLine(atMailbox: ReadonlyArray<{ server: string; mailbox: string; taken?: true }>, what?: string): string {
  const first = atMailbox[0]!;
  const taken = atMailbox.filter((at) => at.taken).length;
  if (atMailbox.length === 1) {
    if (first.taken) return `${what ? `${what} was fetched` : 'Fetched'} by ${first.server} from ${first.mailbox}, not taken in yet: ${first.server} tries it again after a wait.`;
    return `${what ? `${what} waits` : 'Waiting'} at ${first.mailbox} for ${first.server} to fetch it.`;
  }
  if (taken === atMailbox.length) return `${what ? `${what} was fetched` : 'Fetched'} from friends' mailboxes by ${plural(taken, 'server')}, not taken in yet: they try it again after a wait.`;
  const left = atMailbox.length - taken;
  const rest = taken === 0 ? '' : `; ${taken === 1 ? 'one more fetched it and tries' : `${taken} more fetched it and try`} it again after a wait`;
  return `${what ? `${what} waits` : 'Waiting'} at friends' mailboxes for ${taken === 0 ? plural(left, 'server') : `${left} of ${plural(atMailbox.length, 'server')}`} to fetch it${rest}.`;
}

/**
 * An own change of a message (edit, delete, reaction) some server has not taken, in words, under
 * the message: the message may be delivered to all while its edit still waits.
 */

export function changeLine(change: Pick<ChangeDelivery, 'kind' | 'delivery'>, opts: { member: boolean; reachable: boolean; paused?: boolean; now?: number }): Explained {
  const what = CHANGE_WORDS[change.kind];
  const { delivery } = change;
  const refusal = delivery.refused[0];
  // Servers that took it and hold it for review are said whatever else is said (a refusal
  // elsewhere, a mailbox's wait, a wait): else the line reads as if those had it.
  const held = delivery.held_there ?? [];
  const heldWords = held.length === 0 ? '' : `held for review at ${held.length === 1 ? held[0] : plural(held.length, 'server')}: it shows there only if ${held.length === 1 ? 'its owner accepts' : 'their owners accept'} it.`;
  const alsoHeld = heldWords === '' ? '' : ` It was ${heldWords}`;
  if (delivery.state === 'refused' && refusal) {
    if (refusal.reason === 'expired') return { text: `${what} was not delivered to ${refusal.server}: it waited too long and was given up.${alsoHeld}`, details: '' };
    if (refusal.reason === 'dropped') return { text: `${droppedWords(what, refusal.server, opts.member)}${alsoHeld}`, details: '' };
    if (isGivenUpUnchecked(refusal.reason)) return { text: `${what} was not delivered to ${refusal.server}: ${uncheckedWords}${alsoHeld}`, details: refusal.reason };
    if (parseMailboxAnswer(refusal.reason)) return { text: `${what} was not delivered to ${refusal.server}: ${mailboxWords(refusal.reason)}${alsoHeld}`, details: refusal.reason };
    return { text: `${what} was not delivered: refused by ${refusal.server}. ${explainCause(refusal.reason).text}${alsoHeld}`, details: refusal.reason };
  }
  if (delivery.pending_servers.length === 0 && delivery.at_mailbox?.length) return { text: atMailboxLine(delivery.at_mailbox, what) + alsoHeld, details: '' };
  if (delivery.state === 'delivered' && heldWords !== '') return { text: `${what} was ${heldWords}`, details: '' };
  const line = waitingLine(delivery, opts);
  return { text: `${what} is not delivered yet.${line.waiting ? ` ${line.waiting}` : ''}${line.held ? ` ${line.held}` : ''}${alsoHeld}`, details: '' };
}
