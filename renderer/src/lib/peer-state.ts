/**
 * One line about a peer, in words (issue #16 item 3): "Offline since 14:02 — 12 messages
 * waiting, next try in 40 s" instead of raw error text and full dates. The raw cause is
 * returned apart, for a "details" disclosure.
 */
import { explainCause, type Explained } from './errors.ts';
import { ago, clock, fromNow, plural } from './format.ts';
import type { PeerLivenessView } from '../../../shared/contract/admin/peers.ts';
import { parseMailboxAnswer } from '../../../shared/mailbox-answer.ts';

/**
 * How a peer's state is decided (issue #16 item 3):
 * - a message to it failed at least once and waits: "offline since <first failure>", with the count and the next try;
 *   "answers with an error since" when its node's last answer was an error it may get over;
 * - messages wait that were not tried yet, or it is paced, or it asked us to wait (429, its keys
 *   check: 503): "sending" / "paced" / "asked to wait";
 * - nothing waits: "not answering" when the last check of its node while the owner looked failed
 *   (main/core/peering/liveness.ts) and it sent nothing since; "online" only when it sent this node
 *   a request or answered a check within ONLINE_WINDOW_MS; otherwise "last seen <relative time>"
 *   (state idle): a quiet friend is not known to be offline, nor online.
 */
export const ONLINE_WINDOW_MS = 10 * 60_000;

/**
 * How long a friend that receives by pull may go without fetching, while messages wait for it,
 * before its line stops saying they are being sent and says they wait for it to fetch them. A
 * pulling node asks again as soon as an answer ends: an empty long-poll ends within 30 s
 * (MAX_PULL_WAIT_MS, main/core/pull/pull-queue.ts), a failing one is retried within 60 s
 * (main/core/pull/puller.ts), and with messages waiting it is answered at once. Two minutes is
 * four such waits missed, and the node's own limit for calling a destination a live puller
 * (PULL_STALE_MS): past it, nothing is on its way.
 */
export const PULL_LATE_MS = 2 * 60_000;

/** What the node says of a peer's delivery (PeerView's `delivery`, shared/contract/admin/peers.ts). */
export interface DeliveryState {
  mode: 'push' | 'pull';
  last_pull_at: number | null;
  paced?: boolean;
  /** Events waiting for it. */
  waiting: number;
  /** Of them, the messages (the rest are changes: edits, deletions, reactions, memberships); null: not told apart (over 500). */
  waiting_messages?: number | null;
  /** When the oldest waiting event already tried was queued; null when none was tried. */
  retrying_since: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
  /** The friend's node our requests for it go to (nobody reaches it, issue #32). */
  via_mailbox?: string | null;
}

export interface PeerLine {
  /** `waiting`: messages wait for a friend that receives by pull, and it has not fetched lately. */
  /** `refusing`: it answers our deliveries with an error it may get over (paused, our clocks, a 5xx): there, not offline. */
  state: 'online' | 'idle' | 'offline' | 'refusing' | 'reviewing' | 'sending' | 'waiting' | 'paused' | 'blocked' | 'quarantined' | 'unknown';
  text: string;
  cause: Explained;
}

/**
 * What waits for a peer, in words: "3 messages", "2 messages and 1 change", "4 changes" (edits,
 * deletions, reactions or memberships, no message among them), and "1200 messages and changes"
 * when the node did not tell so many apart. Ten reactions are not "10 messages".
 */
export function waitingWords(waiting: number, messages: number | null | undefined): string {
  if (messages === undefined || messages === waiting) return plural(waiting, 'message');
  if (messages === null) return `${waiting} messages and changes`;
  if (messages === 0) return plural(waiting, 'change');
  return `${plural(messages, 'message')} and ${plural(waiting - messages, 'change')}`;
}

/** Words only: the node computed the state (admin/operations/peers `deliveryView`). */
export function peerLine(peer: { server_name?: string; trust: string; last_seen_at: number | null; delivery?: DeliveryState; liveness?: PeerLivenessView | null; refuses_us?: { code: string; at: number } | null; holds_ours_for_review?: { since: number; last_at: number } | null }, now = Date.now(), opts: { paused?: boolean } = {}): PeerLine {
  const waiting = peer.delivery?.waiting ?? 0;
  const what = waitingWords(waiting, peer.delivery?.waiting_messages);
  const none = { text: '', details: '' };
  // Nothing is sent to a blocked or quarantined server (the node holds its queue): neither is
  // "sending", "offline" or "waiting to be pulled", whatever waits for it.
  const held = waiting > 0 ? ` — ${what} held until you allow it` : '';
  if (peer.trust === 'block') return { state: 'blocked', text: `Blocked: nothing is sent to or taken from this server${held}`, cause: none };
  if (peer.trust === 'quarantine' && waiting > 0) return { state: 'quarantined', text: `In quarantine: nothing is sent to it, and what it sends waits for your review${held}`, cause: none };
  // Nothing waits, but it is still in quarantine, however it receives (pull, a mailbox): not "online", nothing "waits there".
  const seen = peer.last_seen_at ? ` · seen ${ago(peer.last_seen_at, now)}` : '';
  if (peer.trust === 'quarantine') return { state: 'quarantined', text: `In quarantine: what it sends waits for your review${seen}`, cause: none };
  // Its node refused our server itself at our latest delivery (a user trial: beta's line said
  // "Online" after alpha blocked it; its node still answers a check, which proves nothing of that).
  const refuses = peer.refuses_us ?? null;
  if (refuses) {
    const who = peer.server_name ?? 'This server';
    const what = refuses.code === 'origin_blocked' ? `${who} blocks your server` : `${who} takes nothing from your server: it takes only the servers its owner added`;
    return { state: 'refusing', text: `${what} — it refused what yours sent ${ago(refuses.at, now)}; nothing you send reaches it until its owner allows yours`, cause: none };
  }
  // This node's federation is paused: nothing is sent (nor pulled from it), whatever the last
  // attempt said ("Sending…", "trying again now" beside "Paused": a helper's UI check).
  if (opts.paused && waiting > 0) return { state: 'paused', text: `Paused here — ${what} waiting until you resume federation`, cause: none };
  // A friend nobody can reach fetches its messages itself (issue #15): they wait to be pulled.
  if (peer.delivery?.mode === 'pull') {
    const lastPull = peer.delivery.last_pull_at;
    // Messages wait and it has not come for them lately: nothing is on its way until it fetches, so not "sending".
    if (waiting > 0 && (lastPull === null || now - lastPull > PULL_LATE_MS)) {
      const since = lastPull === null ? 'it has not fetched any yet' : `last fetched ${ago(lastPull, now)}`;
      return { state: 'waiting', text: `Waiting for ${peer.server_name ?? 'this server'} to fetch ${what} — ${since}`, cause: none };
    }
    const last = lastPull ? `last fetched ${ago(lastPull, now)}` : 'not fetched yet';
    const pulled = waiting > 0 ? `${what} waiting to be pulled` : 'nothing waiting';
    const recent = peer.delivery.last_pull_at !== null && now - peer.delivery.last_pull_at <= ONLINE_WINDOW_MS;
    return { state: waiting > 0 ? 'sending' : recent ? 'online' : 'idle', text: `Receives by pull — ${pulled} (${last})`, cause: none };
  }
  // Nobody reaches it, but a friend's node keeps its mail (issue #32): what we send waits there.
  const mailbox = peer.delivery?.via_mailbox ?? null;
  if (mailbox !== null) {
    // The mailbox did not take them (paused, full): nothing is "being left there" (the session review).
    const refusedSince = peer.delivery?.retrying_since ?? null;
    const lastError = peer.delivery?.last_error ?? null;
    if (waiting > 0 && refusedSince !== null && parseMailboxAnswer(lastError) !== null) {
      return {
        state: 'waiting',
        text: `Through ${mailbox}'s mailbox — ${what} waiting: the mailbox has not taken them since ${clock(refusedSince, now)}${nextTry(peer.delivery?.next_attempt_at, now)}`,
        cause: explainCause(lastError),
      };
    }
    const heard = peer.last_seen_at === null ? 'unknown' : now - peer.last_seen_at <= ONLINE_WINDOW_MS ? 'online' : 'idle';
    return { state: waiting > 0 ? 'sending' : heard, text: `Through ${mailbox}'s mailbox — ${waiting > 0 ? `${what} being left there` : 'what you send waits there for it to fetch'}`, cause: none };
  }
  const since = peer.delivery?.retrying_since ?? null;
  // It answered, asking us to wait (its rate limit: 429; it could not read our keys yet: 503):
  // it is there and takes them soon, it is not offline.
  if (waiting > 0 && since !== null && askedToWait(peer.delivery?.last_error ?? null)) {
    const nextText = fromNow(peer.delivery?.next_attempt_at ?? 0, now);
    return {
      state: 'sending',
      text: `Asked to wait — ${what} waiting: ${peer.server_name ?? 'this server'} takes them a little later${nextText && nextText !== 'now' ? ` (next try ${nextText})` : ''}`,
      cause: explainCause(peer.delivery?.last_error ?? null),
    };
  }
  // Failing, and waiting. Its node answered with an error it may get over (its federation paused:
  // 503; our request's time refused: 401; its own failure: 500 internal_error): there, so not
  // "offline" (a helper's UI check). Only an answer with a federation error code is its node's (as
  // the delivery worker judges, delivery-worker.ts): a proxy's bare 5xx or a web page, or a 502/504, is not.
  if (waiting > 0 && since !== null) {
    const lastError = peer.delivery?.last_error ?? null;
    const answered = /^HTTP (?!502\b|504\b)\d{3} [a-z][a-z0-9_]*\b/.test(lastError ?? '');
    return {
      state: answered ? 'refusing' : 'offline',
      text: `${answered ? 'Answers with an error' : 'Offline'} since ${clock(since, now)} — ${what} waiting${nextTry(peer.delivery?.next_attempt_at, now)}`,
      cause: explainCause(lastError),
    };
  }
  // Its push limit (a Paracord reference takes 120 events a minute): slower, not failing.
  if (waiting > 0 && peer.delivery?.paced) return { state: 'sending', text: `Paced — ${what} waiting: this server takes only so many a minute`, cause: none };
  if (waiting > 0) return { state: 'sending', text: `Sending ${what}…`, cause: none };
  // Nothing to send, so no failing attempt says it is offline: a check of its node while you look
  // does (main/core/peering/liveness.ts), unless it sent us a request since.
  const check = peer.liveness ?? null;
  if (check?.not_answering_since != null && (peer.last_seen_at ?? 0) < check.not_answering_since) {
    const since = clock(check.not_answering_since, now);
    const text = check.answers_wrongly
      ? `Its address answers, but not as its Paracord node should, since ${since} — nothing waiting to be sent`
      : `Not answering since ${since} — nothing waiting to be sent`;
    // What answered is not its node: a cause such as "the other server does not know this" (a 404)
    // would put it on the friend's node; the raw answer stays under "details".
    return { state: 'offline', text, cause: check.answers_wrongly ? { text: '', details: check.error ?? '' } : explainCause(check.error) };
  }
  // Its node held what we sent last for review (it keeps our server in quarantine): taken, not
  // shown there; not "Online" as if all were well. In the past tense: nothing tells us when its
  // owner lets us in. After every state that asks for something sooner (paused, waiting, failing).
  const holds = peer.holds_ours_for_review ?? null;
  if (holds) {
    const who = peer.server_name ?? 'This server';
    const when = holds.since < holds.last_at - 1000 ? `${ago(holds.last_at, now)}; since ${ago(holds.since, now)}` : ago(holds.last_at, now);
    return { state: 'reviewing', text: `${who} held what your server last sent for review (${when}): it shows there only if its owner accepts it`, cause: none };
  }
  // Heard from: its last request to us, or its node's last answer to a check.
  const heard = Math.max(peer.last_seen_at ?? 0, check?.answered_at ?? 0);
  if (heard === 0) return { state: 'unknown', text: 'Not heard from yet', cause: none };
  if (now - heard <= ONLINE_WINDOW_MS) return { state: 'online', text: `Online · seen ${ago(heard, now)}`, cause: none };
  return { state: 'idle', text: `Last seen ${ago(heard, now)} — nothing waiting to be sent`, cause: none };
}

/** ", trying again now" or ", next try in 40 s" after a failing line; '' when no try is due. */
function nextTry(at: number | null | undefined, now: number): string {
  const text = fromNow(at ?? 0, now);
  return text === 'now' ? ', trying again now' : text ? `, next try ${text}` : '';
}

/** A last error where the peer answered "not yet" (its rate limit, or our keys not readable there yet), not a failure to reach it. */
function askedToWait(lastError: string | null): boolean {
  return lastError !== null && /^HTTP (429\b|503 (keys_unavailable|keys_recently_fetched)\b)/.test(lastError);
}
