/**
 * What draws the user's attention to rooms (issue #20 item 4): the unread total in the window
 * title (which the desktop app's window and taskbar show), and a notification when someone
 * newly mentions you — the browser's Notification API when permitted; in the desktop app the
 * same API gives a native notification.
 */
import type { RoomSummary } from '../../../shared/contract/admin-operations.ts';

const BASE_TITLE = 'Paracord';
const seenMentions = new Map<string, number>();
let primed = false;

export function unreadTotal(rooms: RoomSummary[]): number {
  return rooms.reduce((n, r) => n + (r.unread ?? 0), 0);
}

export function titleFor(rooms: RoomSummary[]): string {
  const total = unreadTotal(rooms);
  const mentions = rooms.reduce((n, r) => n + (r.mentions ?? 0), 0);
  if (total === 0) return BASE_TITLE;
  return `(${total > 999 ? '999+' : total}${mentions > 0 ? ` · @${mentions}` : ''}) ${BASE_TITLE}`;
}

/** A member's title (issue #34 item 5): the unread mentions only, "(2) Paracord". */
export function mentionTitleFor(rooms: RoomSummary[]): string {
  const mentions = rooms.reduce((n, r) => n + (r.membership === 'join' ? (r.mentions ?? 0) : 0), 0);
  return mentions > 0 ? `(${mentions > 999 ? '999+' : mentions}) ${BASE_TITLE}` : BASE_TITLE;
}

/** Which title the window shows: the owner's (unread and mentions) or a member's (mentions). */
export const attentionTitle = { of: titleFor };

export function notificationsAvailable(): boolean {
  return typeof Notification !== 'undefined';
}

/**
 * Shows a notification that opens `hash` when clicked. A phone's browser (Chrome on Android) has
 * no `new Notification`: there the member app's service worker shows it (sw.ts opens the room).
 */
function notify(title: string, options: NotificationOptions, hash: string): void {
  try {
    const note = new Notification(title, options);
    note.onclick = () => {
      window.focus();
      location.hash = hash;
    };
  } catch {
    void navigator.serviceWorker?.getRegistration().then((registration) => registration?.showNotification(title, { ...options, data: { hash } })).catch(() => undefined);
  }
}

/** Updates the title; notifies of rooms whose mention count grew since the last call (not on the first). */
export function updateAttention(rooms: RoomSummary[], openRoomId: string): void {
  document.title = attentionTitle.of(rooms);
  for (const room of rooms) {
    const now = room.mentions ?? 0;
    const before = seenMentions.get(room.room_id) ?? 0;
    seenMentions.set(room.room_id, now);
    const visibleNow = room.room_id === openRoomId && document.visibilityState === 'visible';
    if (!primed || now <= before || visibleNow) continue;
    if (notificationsAvailable() && Notification.permission === 'granted') {
      notify(`You were mentioned in ${room.name}`, { body: `${now} unread mention${now === 1 ? '' : 's'}`, tag: room.room_id }, `#/rooms/${encodeURIComponent(room.room_id)}`);
    }
  }
  primed = true;
}
