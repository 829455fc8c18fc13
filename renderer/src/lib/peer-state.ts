/**
 * One line about a peer, in words (issue #16 item 3): "Offline since 14:02 — 12 messages
 * waiting, next try in 40 s" instead of raw error text and full dates. The raw cause is
 * returned apart, for a "details" disclosure.
 */
import { explainCause, type Explained } from './errors.ts';
import { ago, clock, fromNow, plural } from './format.ts';

/**
 * How a peer's state is decided (issue #16 item 3):
 * - a message to it failed at least once and waits: "offline since <first failure>", with the count and the next try;
 * - messages wait that were not tried yet, or it is paced: "sending" / "paced";
 * - nothing waits: "online" only when it sent this node a request within ONLINE_WINDOW_MS; otherwise
 *   "last seen <relative time>" (state idle): a quiet friend is not known to be offline, nor online.
 */
export const ONLINE_WINDOW_MS = 10 * 60_000;

export interface QueueItem {
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
}

export interface PeerLine {
  state: 'online' | 'idle' | 'offline' | 'sending' | 'blocked' | 'quarantined' | 'unknown';
  text: string;
  cause: Explained;
}

export function peerLine(
  peer: { trust: string; last_seen_at: number | null; delivery?: { mode: 'push' | 'pull'; last_pull_at: number | null; paced?: boolean } },
  queue: readonly QueueItem[],
  now = Date.now(),
): PeerLine {
  const none = { text: '', details: '' };
  if (peer.trust === 'block') return { state: 'blocked', text: 'Blocked: nothing is sent to or taken from this server', cause: none };
  // A friend nobody can reach fetches its messages itself (issue #15): they wait to be pulled.
  if (peer.delivery?.mode === 'pull') {
    const last = peer.delivery.last_pull_at ? `last fetched ${ago(peer.delivery.last_pull_at, now)}` : 'not fetched yet';
    const waiting = queue.length > 0 ? `${plural(queue.length, 'message')} waiting to be pulled` : 'nothing waiting';
    const recent = peer.delivery.last_pull_at !== null && now - peer.delivery.last_pull_at <= ONLINE_WINDOW_MS;
    return { state: queue.length > 0 ? 'sending' : recent ? 'online' : 'idle', text: `Receives by pull — ${waiting} (${last})`, cause: none };
  }
  const retrying = queue.filter((q) => q.attempts > 0);
  if (retrying.length > 0) {
    const since = Math.min(...retrying.map((q) => q.created_at));
    const next = Math.min(...queue.map((q) => q.next_attempt_at));
    const lastError = retrying.find((q) => q.last_error)?.last_error ?? null;
    const nextText = fromNow(next, now);
    return {
      state: 'offline',
      text: `Offline since ${clock(since, now)} — ${plural(queue.length, 'message')} waiting${nextText === 'now' ? ', trying again now' : nextText ? `, next try ${nextText}` : ''}`,
      cause: explainCause(lastError),
    };
  }
  // Its push limit (a Paracord reference takes 120 events a minute): slower, not failing.
  if (queue.length > 0 && peer.delivery?.paced) return { state: 'sending', text: `Paced — ${plural(queue.length, 'message')} waiting: this server takes only so many a minute`, cause: none };
  if (queue.length > 0) return { state: 'sending', text: `Sending ${plural(queue.length, 'message')}…`, cause: none };
  const seen = peer.last_seen_at ? ` · seen ${ago(peer.last_seen_at, now)}` : '';
  if (peer.trust === 'quarantine') return { state: 'quarantined', text: `In quarantine: what it sends waits for your review${seen}`, cause: none };
  if (!peer.last_seen_at) return { state: 'unknown', text: 'Not heard from yet', cause: none };
  // Nothing to send, so no failing attempt says it is offline; only a recent request from it says it is online.
  if (now - peer.last_seen_at <= ONLINE_WINDOW_MS) return { state: 'online', text: `Online${seen}`, cause: none };
  return { state: 'idle', text: `Last seen ${ago(peer.last_seen_at, now)} — nothing waiting to be sent`, cause: none };
}
