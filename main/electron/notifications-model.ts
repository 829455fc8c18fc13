/**
 * Which desktop notifications to show (issue #8): a new peer (someone redeemed our invite link,
 * or we redeemed theirs), and a peer that has been failing for a long time. Plain logic over
 * what the node reports; main.ts shows the result with Electron's Notification, if the owner
 * has not turned notifications off.
 */
import type { PeerView, QueueEntry } from '../../shared/contract/admin-operations.ts';

export const LONG_FAILURE_MS = 60 * 60_000;

export interface NotifyState {
  knownPeers: Set<string>;
  /** Peers we already told the owner about, so each long failure is announced once. */
  warnedFailing: Set<string>;
}

export interface DesktopNotification {
  title: string;
  body: string;
}

export function initialNotifyState(peers: readonly PeerView[]): NotifyState {
  return { knownPeers: new Set(peers.map((p) => p.server_name)), warnedFailing: new Set() };
}

/** What the notifications read of a waiting event: its destination, whether it was tried, since when it waits, its error. */
export type WaitingEntry = Pick<QueueEntry, 'destination' | 'attempts' | 'created_at' | 'last_error'>;

/**
 * The peers' waiting events as the node sums them up in `listPeers` (PeerView's `delivery`): one
 * entry per peer retried, its oldest tried event and the last error — all `notificationsFor`
 * reads, without asking for the outbox's rows (issue #35 item 3).
 */
export function waitingOf(peers: readonly PeerView[]): WaitingEntry[] {
  // Nothing is sent to a server the owner blocked or quarantined (its queue is held): it is not
  // failing, and its messages do not go "when it is back".
  return peers.flatMap((p) =>
    p.trust === 'allow' && p.delivery?.retrying_since != null ? [{ destination: p.server_name, attempts: 1, created_at: p.delivery.retrying_since, last_error: p.delivery.last_error }] : [],
  );
}

/** Compares the node's peers and queue with what was seen before; returns what to tell the owner. */
export function notificationsFor(state: NotifyState, peers: readonly PeerView[], pending: readonly WaitingEntry[], now = Date.now()): DesktopNotification[] {
  const out: DesktopNotification[] = [];
  for (const peer of peers) {
    if (!state.knownPeers.has(peer.server_name) && peer.trust === 'allow') {
      out.push({ title: 'New peer', body: `You are now peered with ${peer.server_name}.` });
    }
  }
  state.knownPeers = new Set(peers.map((p) => p.server_name));

  const failingSince = new Map<string, { since: number }>();
  for (const entry of pending) {
    if (entry.attempts === 0) continue;
    const current = failingSince.get(entry.destination);
    if (!current || entry.created_at < current.since) failingSince.set(entry.destination, { since: entry.created_at });
  }
  // The raw error stays out: a notification has no "details" to hold it (the dashboard shows it, in words).
  for (const [server, { since }] of failingSince) {
    if (now - since >= LONG_FAILURE_MS && !state.warnedFailing.has(server)) {
      state.warnedFailing.add(server);
      const hours = Math.floor((now - since) / 3600_000);
      out.push({ title: `${server} is unreachable`, body: `Messages for ${server} have waited ${hours >= 1 ? `${hours} h` : 'an hour'}. They will be sent when it is back; the dashboard says why they wait.` });
    }
  }
  // A peer that recovered may be announced again if it fails again later.
  for (const server of [...state.warnedFailing]) if (!failingSince.has(server)) state.warnedFailing.delete(server);
  return out;
}
