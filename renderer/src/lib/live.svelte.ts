/**
 * Live updates from the node: counters that screens depend on, so they refetch when something
 * changed — no manual refresh. In a browser they come over the admin stream the page already
 * calls the node through (api.ts, issue #35 item 3; `GET /events` stays for outside tools), in
 * the desktop app over IPC. Also whether the node answers at all
 * (issue #16 item 2): when the stream drops, the status is polled every 1.5 s; the screens
 * keep their last data (marked stale) until the node is back, then everything refetches.
 */
export const live = $state({
  /** Bumped by every room notification, read markers too (the rooms list, unread counts). */
  room: 0,
  /** Messages, edits, deletes, reactions: the open room merges what changed (notification-kinds.ts). */
  messages: 0,
  /** Other room events (not read markers): a room's whole page and summary. */
  timeline: 0,
  /** Memberships, bans, roles and invitations. */
  members: 0,
  /** The delivery of own messages changed: `takeDelivered(room)` names them (the room that shows them takes them). */
  deliveries: 0,
  status: 0,
  /** The outbox and the peers' delivery state (one per delivery attempt): screens that show them. */
  queue: 0,
  invites: 0,
  /** What the signed-in member may do changed (the owner's policy): the member app reads its account again. */
  account: 0,
  connected: false,
  lastRoom: '',
  openLink: '',
  /** False while the node does not answer; `lastOkAt` is when it last did. */
  reachable: true,
  lastOkAt: 0,
  /** The session ended under the page (a member's: disabled, signed out elsewhere, passphrase changed). */
  sessionEnded: false,
});

import { access, api, checkMember, desktop, mode, openStream, reachability, streamEvents } from './api.ts';
import { refetchGate } from './refetch-gate.ts';
import { kindsOf, type LiveKind } from './notification-kinds.ts';

// A burst of notifications (a peer's backlog, a quarantined flood) refetches at most every 100 ms;
// the first of a burst at once (lib/refetch-gate.ts).
const bump = refetchGate<LiveKind>((kinds) => {
  for (const kind of kinds) live[kind]++;
}, { gapMs: 100 });
/** Each screen refetches only what the notification can have changed (notification-kinds.ts). */
const bumpFor = (notification: { type: string; event_type?: unknown; scope?: unknown }) => {
  for (const kind of kindsOf(notification)) bump(kind);
};
/** Own messages whose delivery changed, per room, until the room shows them again (`takeDelivered`). */
const delivered = new Map<string, Set<string> | 'all'>();
const MAX_DELIVERED_IDS = 100;

function noteDelivery(notification: { [key: string]: unknown }): void {
  if (typeof notification.room_id !== 'string' || !Array.isArray(notification.event_ids)) return;
  let ids = delivered.get(notification.room_id);
  if (ids === 'all') return;
  if (!ids) delivered.set(notification.room_id, (ids = new Set()));
  for (const id of notification.event_ids) if (typeof id === 'string') ids.add(id);
  // More than a changes request may name: the room reloads its whole page instead.
  if (ids.size > MAX_DELIVERED_IDS) delivered.set(notification.room_id, 'all');
}

/** The own messages of a room whose delivery changed since the last call ('all': too many to name). */
export function takeDelivered(roomId: string): string[] | 'all' {
  const ids = delivered.get(roomId);
  delivered.delete(roomId);
  return ids === 'all' ? 'all' : [...(ids ?? [])];
}

let unsubscribe: (() => void) | undefined;
let probeTimer: ReturnType<typeof setTimeout> | undefined;

/** Everything refetches: after a reconnect nothing of what happened meanwhile is missed. */
function refetchAll(): void {
  live.room++;
  live.timeline++;
  live.members++;
  live.status++;
  live.queue++;
  live.invites++;
  live.account++;
}

export function markReachable(): void {
  live.lastOkAt = Date.now();
  if (!live.reachable) {
    live.reachable = true;
    refetchAll();
  }
}

/** A call failed without an answer from the node (not an error answer): the node is not reachable. */
export function markUnreachable(): void {
  live.reachable = false;
  scheduleProbe();
}

/**
 * A member's page without its stream (the node may not offer members one, docs: issue #34) asks
 * again for what the stream would have announced, every few seconds: the rooms list, the open
 * room's changes and the invitations (cheap: each answers only what changed or a short list).
 */
const MEMBER_POLL_MS = 5000;
function poll(): void {
  live.room++;
  live.messages++;
  live.invites++;
}

function scheduleProbe(): void {
  // Signed out: no call may go out (api.ts `access`), so there is nothing to probe with.
  if (probeTimer || !access.signedIn) return;
  const polling = mode === 'member' && live.reachable && !live.connected;
  probeTimer = setTimeout(async () => {
    probeTimer = undefined;
    if (!access.signedIn) return;
    try {
      // A member may not read the node's status: their own account says as much of the node.
      if (mode === 'member') {
        if (!(await checkMember())) return; // signed out (api.ts told live through reachability.signedOut)
      } else await api.getStatus({});
      markReachable();
      // The stream closed (the node restarted, the network changed): opened again.
      if (!live.connected) connectLive();
      if (polling && !live.connected) poll();
    } catch (error) {
      if (error instanceof TypeError) live.reachable = false;
      else markReachable(); // an error answer (e.g. signed out) still means the node is there
    }
    if (!live.reachable || !live.connected) scheduleProbe();
  }, polling ? MEMBER_POLL_MS : 1500);
}

reachability.ok = () => {
  if (!live.reachable || Date.now() - live.lastOkAt > 1000) markReachable();
};
reachability.failed = () => markUnreachable();
// The session ended: the stream is closed (api.ts) and would only be refused from now on.
reachability.signedOut = () => {
  live.sessionEnded = true;
  live.connected = false;
  clearTimeout(probeTimer);
  probeTimer = undefined;
};

/** A notification from the node (stream or IPC): what it names is noted, the screens that show it refetch. */
function receive(notification: { type: string; [key: string]: unknown }): void {
  if (notification.type === 'room') live.lastRoom = String(notification.room_id);
  if (notification.type === 'delivery') noteDelivery(notification);
  if (notification.type === 'open-link') live.openLink = String(notification.link);
  else bumpFor(notification);
}

// The admin stream (api.ts) in a browser: set here once, so a stream opened by the first call,
// before `connectLive`, is not missed.
streamEvents.notification = receive;
streamEvents.open = () => {
  live.connected = true;
  markReachable();
  // Whatever happened before this stream opened (the first load raced it, or a reconnect left
  // a gap) reached no screen: everything refetches on every open.
  refetchAll();
};
streamEvents.close = () => {
  live.connected = false;
  scheduleProbe();
};

// A member's phone going offline is known before any call fails; back online, the probe asks at once.
if (mode === 'member' && typeof window !== 'undefined') {
  window.addEventListener('offline', () => markUnreachable());
  window.addEventListener('online', () => {
    clearTimeout(probeTimer);
    probeTimer = undefined;
    void checkMember().then((me) => {
      if (!me) return;
      markReachable();
      connectLive();
    }, () => scheduleProbe());
  });
}

export function connectLive(): void {
  if (!access.signedIn) return;
  if (desktop) {
    // The desktop app pushes the same notifications over IPC.
    if (unsubscribe) return;
    live.connected = true;
    unsubscribe = desktop.onNotification(receive);
    return;
  }
  // Already open (or opening): that stream is kept, closing it would lose what it carries.
  // A member's page without a stream asks again every few seconds instead (`poll`).
  if (!openStream() && mode === 'member') scheduleProbe();
}
