/**
 * What a node notification can have changed, so that each screen refetches only what it shows
 * (issue #17: every notification made a room's screen refetch five lists, and the read marker
 * the screen then set came back as a notification that refetched all five again, so the node
 * answered ten reads for each message a friend sent; the friend's message waited behind them).
 *
 * - `room`: the rooms list (unread counts, names): every room notification, read markers too;
 * - `messages`: messages, edits, deletes and reactions: the open room merges what changed
 *   (`listMessages` with `since`);
 * - `timeline`: a room's whole page and summary: every other room event (not a read marker);
 * - `members`: memberships, bans, roles and invitations: membership and role events;
 * - `deliveries`: the delivery of messages this server sent changed (the notification names them);
 * - `queue`: the outbox and the peers' delivery state (`status` with `scope: 'queue'`, one per
 *   delivery attempt): only screens that show them refetch, not every screen that shows the status;
 * - `status`: anything else `getStatus` or the peers show (queue included); with `scope:
 *   'federation'` (paused or resumed) the open room's `timeline` too;
 * - `invites`: as the node names them;
 * - `account`: what the signed-in member may do (`status` with `scope: 'members'`: the owner let
 *   members create rooms, or no longer): a member's app reads its account again.
 *
 * A room event type this UI does not know counts as `room`, `timeline` and `members`: a refetch
 * too many, never one too few.
 */
export type LiveKind = 'room' | 'messages' | 'timeline' | 'members' | 'deliveries' | 'invites' | 'status' | 'queue' | 'account';

const MESSAGES_ONLY: ReadonlySet<string> = new Set(['m.message', 'm.message.edit', 'm.message.delete', 'm.reaction.add', 'm.reaction.remove']);

export function kindsOf(notification: { type: string; event_type?: unknown; scope?: unknown }): LiveKind[] {
  switch (notification.type) {
    case 'status':
      if (notification.scope === 'queue') return ['queue'];
      if (notification.scope === 'members') return ['status', 'account'];
      // Paused or resumed: also the open room, whose waiting messages say so.
      return notification.scope === 'federation' ? ['status', 'queue', 'timeline'] : ['status', 'queue'];
    case 'delivery':
      return ['deliveries'];
    case 'invite':
      return ['invites', 'room', 'timeline', 'members'];
    case 'room': {
      const type = notification.event_type;
      if (type === 'm.read') return ['room'];
      if (typeof type === 'string' && MESSAGES_ONLY.has(type)) return ['room', 'messages'];
      return ['room', 'timeline', 'members'];
    }
    default:
      return [];
  }
}
