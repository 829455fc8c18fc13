/**
 * Notifications of invites, at most one per inviting server and invitee every
 * INVITE_NOTICE_GAP_MS: each makes every screen of the invitee fetch its invites, rooms, timeline
 * and members again (renderer/src/lib/notification-kinds.ts), and a room's host chooses how often
 * it invites. A renewal of a pending invite is never news (room-invites.ts); this bounds the rest
 * whatever a host tries (invites that expire in a second and come again, a new room each time).
 * None is lost: one that comes within the gap is sent at its end, the latest of them (screens
 * fetch the lists, whichever invite the notification names).
 */
import type { NodeNotification } from '../node-events.ts';

export const INVITE_NOTICE_GAP_MS = 2_000;

type InviteNotice = Extract<NodeNotification, { type: 'invite' }>;

export class InviteNotices {
  /** When each (host, invitee) was last told of: kept for one gap. */
  private readonly lastAt = new Map<string, number>();
  private readonly waiting = new Map<string, { notice: InviteNotice; timer: NodeJS.Timeout }>();
  private readonly notify: (notice: InviteNotice) => void;
  private readonly gapMs: number;
  private stopped = false;

  constructor(notify: (notice: InviteNotice) => void, gapMs = INVITE_NOTICE_GAP_MS) {
    this.notify = notify;
    this.gapMs = gapMs;
  }

  /**
   * Tells of `notice` (an invite from `host`) now, or at the end of the gap. On the monotonic
   * clock: a wall clock stepped back must not hold notices for as long as it stepped.
   */
  tell(host: string, notice: InviteNotice, now = performance.now()): void {
    if (this.stopped) return; // a request still in flight while the node stops
    const key = `${host}\n${notice.invitee}`;
    const waiting = this.waiting.get(key);
    if (waiting) {
      waiting.notice = notice;
      return;
    }
    const last = this.lastAt.get(key);
    if (last === undefined || now - last >= this.gapMs) {
      this.sent(key, now);
      this.notify(notice);
      return;
    }
    const entry = {
      notice,
      timer: setTimeout(() => {
        this.waiting.delete(key);
        this.sent(key, performance.now());
        this.notify(entry.notice);
      }, last + this.gapMs - now),
    };
    entry.timer.unref();
    this.waiting.set(key, entry);
  }

  private sent(key: string, now: number): void {
    this.lastAt.set(key, now);
    // Bounded: what is older than a gap limits nothing.
    if (this.lastAt.size > 1_000) for (const [k, at] of this.lastAt) if (now - at >= this.gapMs) this.lastAt.delete(k);
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }
}
